"""The transport runs inside users' apps: it imports the standard library and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """\
import json, sys
before = set(sys.modules)
import tracefix.sdk.transport, tracefix.sdk.envelope, tracefix.sdk._spool, tracefix.sdk._worker
new = {name.partition(".")[0] for name in set(sys.modules) - before}
print(json.dumps(sorted(new - set(sys.stdlib_module_names) - {"tracefix"})))
"""


def test_the_transport_imports_only_the_standard_library() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )

    assert json.loads(probe.stdout) == []
