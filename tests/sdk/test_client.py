"""The client and the public API: init, the event, once-only capture, before_send, safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest

import tracefix
from tracefix.git import git
from tracefix.sdk import DidNotEnable
from tracefix.sdk import Integration
from tracefix.sdk import InvalidDsn
from tracefix.sdk import MemoryTransport
from tracefix.sdk import client as client_module
from tracefix.sdk import get_client
from tracefix.sdk.client import installed_modules
from tracefix.sdk.dsn import Dsn
from tracefix.sdk.transport import Transport

from ..conftest import MakeRepo
from .conftest import TESTS_ROOT
from .conftest import CapturedEvents
from .conftest import TracefixInit
from .conftest import check_event

DSN = "https://public@tracefix.example.com/42"


@pytest.fixture(autouse=True)
def no_dsn_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRACEFIX_DSN", "SENTRY_DSN", "TRACEFIX_RELEASE", "SENTRY_RELEASE"):
        monkeypatch.delenv(name, raising=False)


def fail(message: str = "checkout failed", **context: Any) -> None:
    total = 7  # noqa: F841 - a local the event must show
    raise ValueError(message)


def catch(function: Any = fail, *args: Any, **kwargs: Any) -> BaseException:
    try:
        function(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not raise")


# --- init and the DSN -----------------------------------------------------------------------


def test_without_a_dsn_the_sdk_is_disabled_and_installs_nothing() -> None:
    hook = sys.excepthook
    client = tracefix.init()
    assert not client.is_active
    assert sys.excepthook is hook
    assert tracefix.capture_exception(ValueError("x")) is None
    assert tracefix.flush() is True
    tracefix.close()


@pytest.mark.parametrize("variable", ["TRACEFIX_DSN", "SENTRY_DSN"])
def test_the_dsn_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tracefix_init: TracefixInit, variable: str
) -> None:
    monkeypatch.setenv(variable, DSN)
    client = tracefix_init()
    assert client.options.dsn == Dsn.parse(DSN)


@pytest.mark.parametrize(
    ("dsn", "expected_url"),
    [
        pytest.param(DSN, "https://tracefix.example.com/api/42/envelope/", id="plain"),
        pytest.param(
            "http://key@127.0.0.1:9000/sentry/7",
            "http://127.0.0.1:9000/sentry/api/7/envelope/",
            id="port and path",
        ),
        pytest.param("http://key@[::1]:8080/3", "http://[::1]:8080/api/3/envelope/", id="ipv6"),
    ],
)
def test_valid_dsns(dsn: str, expected_url: str) -> None:
    assert Dsn.parse(dsn).envelope_url == expected_url


@pytest.mark.parametrize(
    "dsn",
    [
        pytest.param("not a dsn", id="not a url"),
        pytest.param("ftp://key@host/1", id="scheme"),
        pytest.param("https://host/1", id="no key"),
        pytest.param("https://key@host/project", id="project not numeric"),
        pytest.param("https://key@host:99999/1", id="port out of range"),
    ],
)
def test_an_invalid_dsn_is_a_programming_error(dsn: str) -> None:
    with pytest.raises(ValueError, match="invalid DSN"):
        tracefix.init(dsn, transport=MemoryTransport())
    assert issubclass(InvalidDsn, ValueError)
    assert not get_client().is_active


def test_the_default_transport_is_http(tmp_path: Path) -> None:
    from tracefix.sdk.transport import HttpTransport

    client = tracefix.init(DSN, spool_dir=tmp_path / "spool")
    assert isinstance(client.transport, HttpTransport)
    tracefix.close(0.5)


def test_transport_options_need_the_default_transport() -> None:
    with pytest.raises(TypeError, match="queue_size"):
        tracefix.init(DSN, transport=MemoryTransport(), queue_size=3)


def test_release_is_read_from_git(make_repo: MakeRepo, tracefix_init: TracefixInit) -> None:
    repo = make_repo({"app.py": "x = 1\n"})
    head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert tracefix_init(in_app_root=repo).options.release == head
    git("pack-refs", "--all", cwd=repo)  # the branch now lives in packed-refs only
    assert tracefix_init(in_app_root=repo).options.release == head


def test_release_of_a_git_worktree(
    make_repo: MakeRepo, tracefix_init: TracefixInit, tmp_path: Path
) -> None:
    repo = make_repo({"app.py": "x = 1\n"})
    git("commit", "--quiet", "--allow-empty", "-m", "second", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    worktree = tmp_path / "wt"
    git("worktree", "add", "--quiet", "--detach", str(worktree), "HEAD~1", cwd=repo)
    first = git("rev-parse", "HEAD~1", cwd=repo).stdout.strip()
    assert tracefix_init(in_app_root=worktree).options.release == first != head


@pytest.mark.parametrize("variable", ["TRACEFIX_RELEASE", "SENTRY_RELEASE"])
def test_release_from_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tracefix_init: TracefixInit, variable: str
) -> None:
    monkeypatch.setenv(variable, "v1.2.3")
    assert tracefix_init().options.release == "v1.2.3"
    assert tracefix_init(release="explicit").options.release == "explicit"


def test_in_app_root_defaults_to_the_git_top_level(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, tracefix_init: TracefixInit
) -> None:
    repo = make_repo({"pkg/app.py": "x = 1\n"})
    monkeypatch.chdir(repo / "pkg")
    client = tracefix_init(in_app_root=None)
    assert client.options.in_app_root == str(repo.resolve())
    assert client.options.environment == "production"
    assert client.options.server_name


def test_in_app_root_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracefix_init: TracefixInit
) -> None:
    monkeypatch.chdir(tmp_path)
    client = tracefix_init(in_app_root=None)
    assert client.options.in_app_root == str(tmp_path.resolve())
    assert client.options.release is None


# --- the event ------------------------------------------------------------------------------


def test_the_event(tracefix_init: TracefixInit, captured_events: CapturedEvents) -> None:
    tracefix_init(release="r1", environment="staging", server_name="web-1")
    try:
        fail("checkout failed", order=17)
    except ValueError:
        event_id = tracefix.capture_exception()

    (event,) = captured_events()
    assert event["event_id"] == event_id
    (value,) = event["exception"]["values"]
    assert (value["type"], value["value"]) == ("ValueError", "checkout failed")
    assert value["mechanism"] == {"type": "generic", "handled": True}
    *_, caller, failing = value["stacktrace"]["frames"]
    assert failing["function"] == "fail"
    assert failing["filename"] == "sdk/test_client.py"
    assert failing["in_app"] is True
    assert failing["context_line"].strip() == "raise ValueError(message)"
    assert len(failing["pre_context"]) == 5
    assert failing["vars"] == {
        "message": "'checkout failed'",
        "context": "{'order': 17}",
        "total": "7",
    }
    assert caller["function"] == "test_the_event"
    assert event["release"] == "r1"
    assert event["environment"] == "staging"
    assert event["server_name"] == "web-1"
    assert event["modules"]["pytest"] == installed_modules()["pytest"]
    assert event["sdk"]["name"] == "tracefix.python"
    assert "logging" in event["sdk"]["integrations"]
    assert event["contexts"]["entry"]["cwd"] == os.getcwd()
    assert event["contexts"]["entry"]["argv"] == sys.argv

    parsed = check_event(event)
    assert parsed.thread_name == threading.current_thread().name
    assert parsed.release == "r1"
    assert parsed.environment == "staging"
    assert parsed.trigger_frame() is not None
    assert parsed.trigger_frame().vars["total"] == "7"  # type: ignore[union-attr]
    assert parsed.entry.argv == tuple(sys.argv)


def test_library_frames_have_no_locals(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    tracefix.capture_exception(catch(json.loads, "{not json"))
    frames = captured_events()[0]["exception"]["values"][0]["stacktrace"]["frames"]
    library = [frame for frame in frames if not frame["in_app"]]
    assert library and all("vars" not in frame for frame in library)
    assert library[-1]["abs_path"].endswith(os.path.join("json", "decoder.py"))


def test_the_exception_chain_is_oldest_first(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    def wrap() -> None:
        try:
            fail("root cause")
        except ValueError as exc:
            raise RuntimeError("while charging") from exc

    tracefix_init()
    tracefix.capture_exception(catch(wrap))
    values = captured_events()[0]["exception"]["values"]
    assert [v["value"] for v in values] == ["root cause", "while charging"]


def test_capture_exception_without_an_exception(tracefix_init: TracefixInit) -> None:
    tracefix_init()
    assert tracefix.capture_exception() is None


def test_an_exception_is_sent_once(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = []
    build_event = client_module.builder.build_event
    monkeypatch.setattr(
        client_module.builder,
        "build_event",
        lambda *a, **k: builds.append(a) or build_event(*a, **k),
    )
    tracefix_init()
    exc = catch()
    assert tracefix.capture_exception(exc) is not None
    assert tracefix.capture_exception(exc) is None
    assert len(captured_events()) == 1
    assert len(builds) == 1


def test_include_local_variables_off(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init(include_local_variables=False)
    tracefix.capture_exception(catch())
    frames = captured_events()[0]["exception"]["values"][0]["stacktrace"]["frames"]
    assert all("vars" not in frame for frame in frames)


def test_huge_messages_are_cut(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    tracefix_init()
    tracefix.capture_exception(catch(fail, "x " * 1_000_000))
    assert len(captured_events()[0]["exception"]["values"][0]["value"]) <= 8192 + 3


def test_breadcrumbs_are_bounded(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    import logging

    tracefix_init(max_breadcrumbs=3)
    logger = logging.getLogger("tests.sdk.shop")
    logger.setLevel(logging.INFO)
    for n in range(10):
        logger.info("step %d", n)
    tracefix.capture_exception(catch())
    crumbs = captured_events()[0]["breadcrumbs"]["values"]
    assert [c["message"] for c in crumbs] == ["step 7", "step 8", "step 9"]
    assert crumbs[0]["category"] == "tests.sdk.shop"
    assert crumbs[0]["level"] == "info"


# --- before_send ----------------------------------------------------------------------------


def test_before_send_can_drop(tracefix_init: TracefixInit, captured_events: CapturedEvents) -> None:
    seen: list[Any] = []

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> None:
        seen.append(hint["exc_info"][1])
        return None

    client = tracefix_init(before_send=before_send)
    exc = catch()
    assert tracefix.capture_exception(exc) is None
    assert captured_events() == []
    assert seen == [exc]
    assert isinstance(client.transport, MemoryTransport)
    assert client.transport.lost == {("before_send", "error"): 1}


def test_before_send_can_change_the_event_and_is_scrubbed_after(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        event["tags"] = {"team": "payments"}
        event["extra"]["note"] = "retry with sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
        return event

    tracefix_init(before_send=before_send)
    tracefix.capture_exception(catch())
    (event,) = captured_events()
    assert event["tags"] == {"team": "payments"}
    assert event["extra"]["note"] == "retry with [Filtered]"


def test_a_failing_before_send_drops_the_event(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, internal_errors: list[Any]
) -> None:
    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("oops")

    tracefix_init(before_send=before_send)
    assert tracefix.capture_exception(catch()) is None
    assert captured_events() == []
    assert len(internal_errors) == 1  # logged (at warning: the bug is the user's)
    internal_errors.clear()


# --- never break the host -------------------------------------------------------------------


class BrokenTransport(Transport):
    def capture_event(self, event: dict[str, Any]) -> None:
        raise OSError("disk full")

    def record_lost_event(self, reason: str, category: str = "error", quantity: int = 1) -> None:
        raise OSError("disk full")

    def flush(self, timeout: float) -> bool:
        raise OSError("disk full")

    def close(self, timeout: float) -> None:
        raise OSError("disk full")


def test_a_failing_transport_never_reaches_the_app(
    tracefix_init: TracefixInit, internal_errors: list[Any]
) -> None:
    tracefix_init(transport=BrokenTransport())
    assert tracefix.capture_exception(catch()) is None
    assert tracefix.flush() is False
    tracefix.close()
    assert [type(exc_info[1]) for exc_info in internal_errors] == [OSError, OSError, OSError]
    internal_errors.clear()


class ReprRaises:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


class GetattrExplodes:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")


class LenExplodes(dict[str, int]):
    def __len__(self) -> int:
        raise RuntimeError("len is broken")


def recursive_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def recursive_dict() -> dict[str, Any]:
    data: dict[str, Any] = {"a": 1}
    data["self"] = data
    return data


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(ReprRaises(), "<ReprRaises instance at", id="repr raises"),
        pytest.param(GetattrExplodes(), "<tests.sdk.test_client.GetattrExplodes", id="getattr"),
        pytest.param(LenExplodes(a=1), "<LenExplodes object (repr failed)>", id="len raises"),
        pytest.param("x" * 10_000_000, "'xxxx", id="huge string"),
        pytest.param(b"\x00" * 10_000_000, "b'\\x00", id="huge bytes"),
        pytest.param(list(range(1_000_000)), "[0, 1, 2", id="huge list"),
        pytest.param({n: n for n in range(1_000_000)}, "{0: 0, 1: 1", id="huge dict"),
        pytest.param(set(range(1_000_000)), "{0, 1, 2", id="huge set"),
        pytest.param(recursive_list(), "[1, [1, [1, [...]]]]", id="recursive list"),
        pytest.param(recursive_dict(), "{'a': 1, 'self': {'a': 1", id="recursive dict"),
        pytest.param(10**5000, "<int object (repr failed)>", id="huge int"),
    ],
)
def test_malformed_locals_do_not_stop_capture(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, value: Any, expected: str
) -> None:
    def fail_holding(value: Any) -> None:
        raise ValueError("bad local")

    tracefix_init()
    tracefix.capture_exception(catch(fail_holding, value))
    (event,) = captured_events()
    shown = event["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"]["value"]
    assert expected in shown
    assert len(json.dumps(event)) < 50_000


# --- integrations ---------------------------------------------------------------------------


class Counting(Integration):
    identifier = "counting"
    calls: ClassVar[int] = 0

    @staticmethod
    def setup_once() -> None:
        Counting.calls += 1


class Unavailable(Integration):
    identifier = "unavailable"

    @staticmethod
    def setup_once() -> None:
        raise DidNotEnable("the library is not installed")


@pytest.fixture
def counting() -> Iterator[type[Counting]]:
    Counting.calls = 0
    yield Counting


def test_setup_once_runs_once(tracefix_init: TracefixInit, counting: type[Counting]) -> None:
    tracefix_init(integrations=[Counting()])
    client = tracefix_init(integrations=[Counting()])
    assert counting.calls == 1
    assert client.get_integration("counting") is not None


def test_an_explicit_integration_that_cannot_enable_raises(tracefix_init: TracefixInit) -> None:
    with pytest.raises(DidNotEnable, match="not installed"):
        tracefix_init(integrations=[Unavailable()])


def test_a_default_integration_that_cannot_enable_is_left_out(
    tracefix_init: TracefixInit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracefix.sdk import integrations

    monkeypatch.setattr(
        integrations,
        "AUTO_ENABLING_INTEGRATIONS",
        (
            ("tests.sdk.test_client.Unavailable", "json", "installed"),
            ("tracefix.sdk.integrations.no_such_library.X", "json", "installed"),
            ("tracefix.sdk.integrations.never.X", "no_such_library", "installed"),
        ),
    )
    client = tracefix_init()
    assert "unavailable" not in client.integrations
    assert "logging" in client.integrations


@pytest.mark.parametrize(
    "disabled",
    ["excepthook", "tracefix.sdk.integrations.excepthook.ExcepthookIntegration"],
    ids=["identifier", "class"],
)
def test_integrations_can_be_disabled(tracefix_init: TracefixInit, disabled: str) -> None:
    from tracefix.sdk.integrations.excepthook import ExcepthookIntegration

    hook = sys.excepthook
    option: Any = disabled if "." not in disabled else ExcepthookIntegration
    client = tracefix_init(disabled_integrations=[option])
    assert "excepthook" not in client.integrations
    assert sys.excepthook is hook


def test_no_default_integrations(tracefix_init: TracefixInit, counting: type[Counting]) -> None:
    hook, thread_hook = sys.excepthook, threading.excepthook
    client = tracefix_init(default_integrations=False, integrations=[Counting()])
    assert list(client.integrations) == ["counting"]
    assert (sys.excepthook, threading.excepthook) == (hook, thread_hook)


# --- the package ----------------------------------------------------------------------------


def test_auto_enabling_integrations_import_only_what_they_must() -> None:
    """Flask is imported when installed (an app may call init before importing it); Celery is
    enabled only when the app imported it already (a worker always has)."""
    code = (
        "import sys, tracefix\n"
        "from tracefix.sdk import MemoryTransport\n"
        "if sys.argv[1] == 'worker':\n"
        "    import celery\n"
        "client = tracefix.init(transport=MemoryTransport())\n"
        "print(sorted(client.integrations), 'celery' in sys.modules)\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code, kind],
            capture_output=True,
            text=True,
            check=True,
            cwd=TESTS_ROOT,
        ).stdout.strip()
        for kind in ("web", "worker")
    ]
    assert outputs[0] == "['atexit', 'excepthook', 'flask', 'logging', 'threading'] False"
    assert outputs[1] == (
        "['atexit', 'celery', 'excepthook', 'flask', 'logging', 'threading'] True"
    )


def test_import_tracefix_stays_cheap() -> None:
    code = (
        "import sys, tracefix\n"
        "heavy = ('click', 'rich', 'libcst', 'tracefix.sdk', 'typing')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "tracefix.init\n"
        "print(sorted(m for m in heavy[:3] if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=TESTS_ROOT
    )
    assert result.stdout.split("\n")[:2] == ["[]", "[]"]


def test_installed_modules_match_importlib_metadata() -> None:
    from importlib import metadata

    modules = installed_modules()
    for name in ("flask", "werkzeug", "pytest"):
        assert modules[name] == metadata.version(name)
