"""``[tool.tracefix]`` in ``pyproject.toml``: which codes the scan checks, and what it skips.

    [tool.tracefix]
    select = ["CTX1"]                  # codes or prefixes of codes; default: every recipe
    ignore = ["CTX104"]                # codes or prefixes
    exclude = ["migrations/", "scripts/legacy_*.py"]   # .gitignore-style, on top of the defaults

As in ruff, when a code matches entries of both ``select`` and ``ignore``, the longer (more
specific) entry decides, and ``ignore`` wins a tie. A mistake here is the user's to fix, so it
stops the scan with one line naming the file and the key (``ConfigError``, exit 2) rather than
being guessed around.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path

KEYS = ("select", "ignore", "exclude")


class ConfigError(Exception):
    """The configuration or the command line asks for something the scan cannot do."""


@dataclass(frozen=True)
class ScanConfig:
    #: Codes or prefixes to check; empty means every code.
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    #: .gitignore-style patterns, relative to the project root, of files not to read.
    exclude: tuple[str, ...] = ()
    #: The file the settings came from, for messages.
    source: Path | None = None

    def enabled(self, code: str) -> bool:
        selected = max((len(s) for s in self.select if code.startswith(s)), default=-1)
        if not self.select:
            selected = 0
        ignored = max((len(i) for i in self.ignore if code.startswith(i)), default=-1)
        return selected >= 0 and selected > ignored

    def with_command_line(self, select: str | None, ignore: str | None) -> ScanConfig:
        """``--select`` replaces the configured selection; ``--ignore`` adds to it."""
        config = self
        if select is not None:
            config = replace(config, select=_split(select))
        if ignore is not None:
            config = replace(config, ignore=config.ignore + _split(ignore))
        return config

    def check_codes(self, known: Iterable[str]) -> None:
        """``ConfigError`` for an entry that matches no recipe's code (a typo selects nothing)."""
        codes = list(known)
        where = f"{self.source}: [tool.tracefix] " if self.source else ""
        for key, entries in (("select", self.select), ("ignore", self.ignore)):
            for entry in entries:
                if not any(code.startswith(entry) for code in codes):
                    raise ConfigError(
                        f"{where}{key}: {entry!r} matches no code (known: {', '.join(codes)})"
                    )


def load_config(root: Path, explicit: Path | None = None) -> ScanConfig:
    """The ``[tool.tracefix]`` table of ``explicit``, else of ``root/pyproject.toml``."""
    path = explicit if explicit is not None else root / "pyproject.toml"
    if not path.is_file():
        if explicit is not None:
            raise ConfigError(f"{explicit}: no such file")
        return ScanConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    table = document.get("tool", {}).get("tracefix", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.tracefix] must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: [tool.tracefix] has unknown key {unknown[0]!r} (known: {', '.join(KEYS)})"
        )
    values = {key: _strings(path, key, table.get(key, [])) for key in KEYS}
    return ScanConfig(
        select=tuple(code.upper() for code in values["select"]),
        ignore=tuple(code.upper() for code in values["ignore"]),
        exclude=values["exclude"],
        source=path,
    )


def _strings(path: Path, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [tool.tracefix] {key} must be a list of strings")
    return tuple(item.strip() for item in value if item.strip())


def _split(codes: str) -> tuple[str, ...]:
    return tuple(code.strip().upper() for code in codes.split(",") if code.strip())


def enabled_codes(config: ScanConfig, codes: Sequence[str]) -> list[str]:
    return [code for code in codes if config.enabled(code)]
