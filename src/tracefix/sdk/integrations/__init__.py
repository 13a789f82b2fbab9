"""Integrations: how the SDK hooks into the process and the libraries the app uses.

One module per integration, each an ``Integration`` subclass registered by one line in
``DEFAULT_INTEGRATIONS`` or ``AUTO_ENABLING_INTEGRATIONS`` (the shape of sentry-python's
``sentry_sdk/integrations/__init__.py``). A hook is installed once per process, ever; what it
does on each call depends on the client active at that moment, so ``init`` can run again, and
a disabled integration costs one dict lookup.

Every hook follows the same contract:

- guard first: if no client is active or this integration is not enabled in it, do nothing
  but what the hooked code did before (call the previous hook);
- run the SDK's work inside ``capture_internal_errors()``;
- never change what the app sees: no response, status code, exception or log output differs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from abc import ABC
from abc import abstractmethod
from collections.abc import Iterable
from typing import ClassVar

from tracefix.sdk import _internal
from tracefix.sdk._internal import logger


class DidNotEnable(Exception):  # noqa: N818 - sentry-python's name, kept for familiarity
    """An integration cannot be enabled: its library is missing, too old, or not usable here.

    Silently swallowed (logged at debug level) for default and auto-enabled integrations;
    re-raised for integrations passed explicitly to ``init(integrations=...)``.
    """


class Integration(ABC):
    """Base of every integration.

    Subclasses set ``identifier`` (the name used by ``disabled_integrations``) and implement
    ``setup_once``. Options, if any, go in ``__init__`` and are validated there.
    """

    identifier: ClassVar[str]

    @staticmethod
    @abstractmethod
    def setup_once() -> None:
        """Install the integration's hooks. Called once per process, ever.

        No client or option is available here: hook into the library's seams (signals,
        ``sys.excepthook``...) and let each hook look up the active client when it runs.
        Raise ``DidNotEnable`` when the library cannot be hooked.
        """


DEFAULT_INTEGRATIONS: tuple[str, ...] = (
    "tracefix.sdk.integrations.excepthook.ExcepthookIntegration",
    "tracefix.sdk.integrations.threading.ThreadingIntegration",
    "tracefix.sdk.integrations.logging.LoggingIntegration",
    "tracefix.sdk.integrations.atexit.AtexitIntegration",
)

#: Enabled when their library is there: ``(integration, library, when)``, ``when`` being
#: "installed" (imported by ``init`` if the app has not yet) or "imported" (only if the app
#: already imported it: a Celery worker always has, and a web process or a script need not
#: pay Celery's 120 ms import for signals that only fire in a worker).
AUTO_ENABLING_INTEGRATIONS: tuple[tuple[str, str, str], ...] = (
    ("tracefix.sdk.integrations.flask.FlaskIntegration", "flask", "installed"),
    ("tracefix.sdk.integrations.celery.CeleryIntegration", "celery", "imported"),
)

_installer_lock = threading.Lock()
#: Identifiers whose ``setup_once`` ran (whether it succeeded or not): never run again.
_processed: set[str] = set()
#: Identifiers whose ``setup_once`` succeeded: their hooks are in place.
_installed: set[str] = set()


def identifier_of(integration: Integration | type[Integration] | str) -> str:
    """The identifier of an integration given as an instance, a class or its identifier."""
    if isinstance(integration, str):
        return integration
    return integration.identifier


def _load(path: str) -> type[Integration]:
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DidNotEnable(f"{module_name}: {exc}") from exc
    integration: type[Integration] = getattr(module, class_name)
    return integration


def _available(candidates: Iterable[tuple[str, str, str]]) -> tuple[str, ...]:
    """The auto-enabling integrations whose library is there, without importing any."""
    available = []
    for path, library, when in candidates:
        if library in sys.modules:
            available.append(path)
        elif when == "installed":
            try:
                if importlib.util.find_spec(library) is not None:
                    available.append(path)
            except (ImportError, ValueError):
                continue
        else:
            logger.debug("integration %s not enabled: %s is not imported", path, library)
    return tuple(available)


def setup_integrations(
    integrations: Iterable[Integration],
    *,
    with_defaults: bool = True,
    disabled: Iterable[Integration | type[Integration] | str] = (),
) -> dict[str, Integration]:
    """Install the hooks of the chosen integrations, once each, and return them by identifier.

    The chosen ones are ``integrations`` (explicit: a ``DidNotEnable`` propagates) plus, with
    ``with_defaults``, the defaults and the auto-enabling ones whose library is installed (a
    ``DidNotEnable`` is logged and the integration left out), minus ``disabled``.
    """
    disabled_ids = {identifier_of(item) for item in disabled}
    chosen: dict[str, Integration] = {}
    explicit: set[str] = set()
    for integration in integrations:
        chosen[integration.identifier] = integration
        explicit.add(integration.identifier)
    if with_defaults:
        for path in DEFAULT_INTEGRATIONS + _available(AUTO_ENABLING_INTEGRATIONS):
            try:
                cls = _load(path)
            except DidNotEnable as exc:
                logger.debug("integration %s not enabled: %s", path, exc)
                continue
            if cls.identifier not in chosen:
                chosen[cls.identifier] = cls()

    enabled: dict[str, Integration] = {}
    with _installer_lock:
        for identifier, integration in chosen.items():
            if identifier in disabled_ids:
                continue
            if identifier not in _processed:
                _processed.add(identifier)
                try:
                    type(integration).setup_once()
                except DidNotEnable as exc:
                    if identifier in explicit:
                        raise
                    logger.debug("integration %s not enabled: %s", identifier, exc)
                    continue
                except Exception:
                    if identifier in explicit:
                        raise
                    _internal.report_internal_error(sys.exc_info())  # type: ignore[arg-type]
                    continue
                _installed.add(identifier)
            if identifier in _installed:
                enabled[identifier] = integration
    return enabled
