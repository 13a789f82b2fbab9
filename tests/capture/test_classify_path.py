"""Which frames are the project's own: the files ``tracefix`` may read and patch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracefix.capture._hook.tracefix_capture import classify_path


def test_a_project_file_is_in_app_by_its_path_from_the_root(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "jobs.py").write_text("x = 1\n")
    assert classify_path(str(tmp_path / "app" / "jobs.py"), str(tmp_path)) == (True, "app/jobs.py")


def test_a_compiled_modules_build_path_is_not_in_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gevent's compiled greenlets report ``src/gevent/greenlet.py``, relative to where gevent
    was built; run from a project with a ``src/`` layout, that path resolves inside the
    project, but no such file is there."""
    (tmp_path / "src" / "shop").mkdir(parents=True)
    (tmp_path / "src" / "shop" / "jobs.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    assert classify_path("src/gevent/greenlet.py", str(tmp_path)) == (
        False,
        "src/gevent/greenlet.py",
    )
    assert classify_path("src/shop/jobs.py", str(tmp_path)) == (True, "src/shop/jobs.py")


def test_a_real_gevent_greenlet_frame_is_not_in_app(tmp_path: Path) -> None:
    gevent = pytest.importorskip("gevent")
    root = str(tmp_path)

    def fail() -> None:
        raise RuntimeError("Working outside of application context.")

    greenlet = gevent.spawn(fail)
    greenlet.join()
    assert isinstance(greenlet.exception, RuntimeError)
    tb = greenlet.exception.__traceback__
    filenames = []
    while tb is not None:
        filenames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    compiled = [name for name in filenames if not Path(name).is_absolute()]
    assert compiled, filenames  # gevent's compiled Greenlet.run, under its build path
    for name in compiled:
        assert classify_path(name, root)[0] is False
