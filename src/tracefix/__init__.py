"""tracefix: from a Python runtime error to a verified, minimal fix.

``tracefix.init(dsn)`` starts the SDK in a production app (see ``tracefix.sdk``). The SDK's
functions load on first use, so ``import tracefix`` stays cheap for the CLI and for apps alike.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

# Not ``typing.TYPE_CHECKING``: importing typing alone would double this module's import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracefix.sdk import capture_exception
    from tracefix.sdk import close
    from tracefix.sdk import flush
    from tracefix.sdk import init

__all__ = ["__version__", "capture_exception", "close", "flush", "init"]

_SDK_API = frozenset({"capture_exception", "close", "flush", "init"})


def __getattr__(name: str) -> Any:
    if name in _SDK_API:
        from tracefix import sdk

        value = getattr(sdk, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tracefix' has no attribute {name!r}")
