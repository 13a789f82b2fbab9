"""The project's repository at a release: real repositories, real mirrors, real fetches."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from tracefix.errors import CheckoutError
from tracefix.git import git
from tracefix.verify.checkout import RepositoryCache
from tracefix.verify.checkout import release_candidates
from tracefix.verify.worktree import isolated_worktree


def commit_file(root: Path, name: str, text: str, message: str) -> str:
    (root / name).write_text(text)
    git("add", name, cwd=root)
    git("commit", "--quiet", "-m", message, cwd=root)
    return git("rev-parse", "HEAD", cwd=root).stdout.strip()


def snapshot(root: Path) -> dict[str, object]:
    """Every file of the repository, .git included, and what git says about it."""
    return {
        "files": {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        },
        "status": git("status", "--porcelain", cwd=root).stdout,
        "worktrees": git("worktree", "list", "--porcelain", cwd=root).stdout,
    }


@pytest.fixture
def origin(make_repo):
    """A repository with two releases: ``1.2`` (annotated tag) and ``v1.3`` (lightweight)."""
    root = make_repo({"app.py": "VERSION = '1.1'\n"}, name="myapp")
    commit_file(root, "app.py", "VERSION = '1.2'\n", "release 1.2")
    git("tag", "-a", "1.2", "-m", "release 1.2", cwd=root)
    commit_file(root, "app.py", "VERSION = '1.3'\n", "release 1.3")
    git("tag", "v1.3", cwd=root)
    return root


@pytest.fixture
def cache(tmp_path):
    return RepositoryCache(tmp_path / "cache", timeout=60)


def rev(root: Path, name: str) -> str:
    return git("rev-parse", f"{name}^{{commit}}", cwd=root).stdout.strip()


def test_a_local_repository_is_checked_out_at_its_head_and_left_untouched(origin, cache):
    (origin / "app.py").write_text("VERSION = 'uncommitted'\n")
    before = snapshot(origin)
    with cache.checkout(str(origin), None) as checkout:
        assert checkout.commit == rev(origin, "HEAD")
        assert checkout.resolved == "refs/heads/main"
        assert (checkout.path / "app.py").read_text() == "VERSION = '1.3'\n"
        assert checkout.path.name == "myapp"
        assert git("status", "--porcelain", cwd=checkout.path).stdout == ""
    assert not checkout.path.exists()
    assert snapshot(origin) == before


@pytest.mark.parametrize(
    ("release", "expected_ref", "version"),
    [
        ("1.2", "refs/tags/1.2", "1.2"),
        ("v1.2", "refs/tags/1.2", "1.2"),
        ("myapp@1.2", "refs/tags/1.2", "1.2"),
        ("myapp@1.3", "refs/tags/v1.3", "1.3"),
        ("1.3", "refs/tags/v1.3", "1.3"),
        ("main", "refs/heads/main", "1.3"),
    ],
)
def test_a_release_string_resolves_to_its_tag_or_branch(
    origin, cache, release, expected_ref, version
):
    with cache.checkout(str(origin), release) as checkout:
        assert checkout.resolved == expected_ref
        assert checkout.commit == rev(origin, expected_ref)
        assert (checkout.path / "app.py").read_text() == f"VERSION = '{version}'\n"


def test_a_release_resolves_by_full_and_short_sha(origin, cache):
    first = rev(origin, "main~2")
    with cache.checkout(str(origin), first) as full, cache.checkout(origin, first[:8]) as short:
        assert full.commit == short.commit == first
        assert (short.path / "app.py").read_text() == "VERSION = '1.1'\n"
        assert full.path != short.path


def test_the_build_part_of_a_sentry_release_may_be_the_commit(origin, cache):
    first = rev(origin, "main~2")
    with cache.checkout(str(origin), f"myapp@9.9.9+{first[:10]}") as checkout:
        assert checkout.commit == first


@pytest.mark.parametrize("release", ["2.0", "myapp@2.0", "deadbeefcafe", "HEAD~1", ":/release"])
def test_a_release_that_names_nothing_is_a_clear_error(origin, cache, release):
    with pytest.raises(CheckoutError) as caught:
        cache.checkout(str(origin), release)
    assert f"release {release!r} is not a commit, tag or branch" in caught.value.message
    assert caught.value.exit_code == 19
    assert not list((cache.cache_dir / "checkouts").glob("*/*"))


def test_a_url_is_mirrored_once_and_fetched_when_the_release_is_missing(origin, cache):
    url = origin.as_uri()
    with cache.checkout(url, "1.2") as checkout:
        assert (checkout.path / "app.py").read_text() == "VERSION = '1.2'\n"
    (mirror,) = (cache.cache_dir / "mirrors").glob("*.git")
    clone_marker = mirror / "tracefix-test-marker"
    clone_marker.write_text("the first clone\n")

    new = commit_file(origin, "app.py", "VERSION = '1.4'\n", "release 1.4")
    git("tag", "v1.4", cwd=origin)
    with cache.checkout(url, "1.4") as checkout:
        assert checkout.commit == new
        assert (checkout.path / "app.py").read_text() == "VERSION = '1.4'\n"
    newer = commit_file(origin, "app.py", "VERSION = '1.5'\n", "release 1.5")
    with cache.checkout(url, newer[:7]) as by_sha, cache.checkout(url, None) as latest:
        assert by_sha.commit == latest.commit == newer
    assert clone_marker.exists(), "the mirror was cloned again instead of fetched"
    assert [p.name for p in (cache.cache_dir / "mirrors").glob("*.git")] == [mirror.name]


def test_a_branch_is_fetched_again_since_branches_move(origin, cache):
    url = origin.as_uri()
    with cache.checkout(url, "main") as checkout:
        assert checkout.commit == rev(origin, "main")
    moved = commit_file(origin, "app.py", "VERSION = 'next'\n", "next")
    with cache.checkout(url, "main") as checkout:
        assert checkout.commit == moved


def test_the_default_branch_follows_the_source(origin, cache):
    other = commit_file(origin, "app.py", "VERSION = 'x'\n", "x")
    git("checkout", "--quiet", "-b", "develop", cwd=origin)
    develop = commit_file(origin, "app.py", "VERSION = 'develop'\n", "develop")
    git("checkout", "--quiet", "main", cwd=origin)
    with cache.checkout(origin.as_uri(), None) as checkout:
        assert checkout.commit == other
    git("checkout", "--quiet", "develop", cwd=origin)
    with cache.checkout(origin.as_uri(), None) as checkout:
        assert (checkout.commit, checkout.resolved) == (develop, "refs/heads/develop")


def test_checkouts_are_independent_and_closing_removes_them(origin, cache):
    first = cache.checkout(origin.as_uri(), "1.2")
    second = cache.checkout(origin.as_uri(), "1.2")
    (first.path / "app.py").write_text("changed by a job\n")
    assert (second.path / "app.py").read_text() == "VERSION = '1.2'\n"
    first.close()
    first.close()
    assert not first.path.exists() and second.path.exists()
    second.close()
    (mirror,) = (cache.cache_dir / "mirrors").glob("*.git")
    listed = git("worktree", "list", "--porcelain", cwd=mirror).stdout
    assert "checkout-" not in listed
    assert not list((cache.cache_dir / "checkouts").iterdir())


def test_jobs_checking_out_one_url_at_once_share_one_clone(origin, cache):
    results: list[str] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            with cache.checkout(origin.as_uri(), "v1.3") as checkout:
                results.append(checkout.commit)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [rev(origin, "v1.3")] * 4
    assert len(list((cache.cache_dir / "mirrors").glob("*.git"))) == 1


def test_credentials_in_a_url_never_reach_the_disk_or_the_message(cache):
    url = "https://deploy:s3cr3t-t0ken@127.0.0.1:9/team/app.git"
    with pytest.raises(CheckoutError) as caught:
        cache.checkout(url, "main")
    assert "s3cr3t-t0ken" not in caught.value.message
    assert "https://127.0.0.1:9/team/app.git" in caught.value.message
    for path in cache.cache_dir.rglob("*"):
        assert not path.is_file() or b"s3cr3t" not in path.read_bytes()
    assert not list((cache.cache_dir / "mirrors").glob("*.git*"))


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("ext::sh -c touch% /tmp/pwned", "not a folder, nor a git URL"),
        ("ftp://example.com/repo.git", "ftp:// is not a git URL"),
        ("--upload-pack=touch /tmp/pwned", "is not a repository path or git URL"),
    ],
)
def test_a_source_that_is_no_repository_is_a_clear_error(cache, source, words):
    with pytest.raises(CheckoutError, match=words):
        cache.checkout(source, None)


def test_a_folder_outside_git_is_a_clear_error(cache, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(CheckoutError, match="is not inside a git repository"):
        cache.checkout(str(tmp_path / "plain"), None)


def test_release_candidates_try_the_literal_name_first():
    assert release_candidates("v1.2") == ["v1.2", "1.2"]
    assert release_candidates("1.2") == ["1.2", "v1.2"]
    assert release_candidates("shop@2.0.1+4f2a9c1") == [
        "shop@2.0.1+4f2a9c1",
        "2.0.1+4f2a9c1",
        "2.0.1",
        "v2.0.1+4f2a9c1",
        "v2.0.1",
        "4f2a9c1",
    ]
    assert release_candidates("HEAD~1") == []
    assert release_candidates("main@{yesterday}") == []


def test_the_verifier_makes_its_worktrees_from_a_checkout(origin, cache):
    with cache.checkout(origin.as_uri(), "1.2") as checkout:
        with isolated_worktree(checkout.path) as worktree:
            assert (worktree.path / "app.py").read_text() == "VERSION = '1.2'\n"
        assert checkout.path.exists()
