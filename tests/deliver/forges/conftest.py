"""The fake forges live beside the tests; their folder goes on ``sys.path`` to import them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
