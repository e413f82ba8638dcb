"""The git commit a run records: read from the repository's files where they are plain, else from
``git rev-parse HEAD``; either way what git says. Real repositories made with real git."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from probes.cluster import GIT_LOCATION_VARIABLES, git_commit, read_head

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION_VARIABLES}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout.strip()


def _rev_parse(cwd: Path) -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                          check=False)  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "sub" / "deeper").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    for i in range(3):
        (root / "f").write_text(str(i))
        _git(root, "add", "f")
        _git(root, "commit", "-q", "-m", f"c{i}")
    return root


def test_a_branch_in_a_plain_repository_from_any_subdirectory(repo: Path) -> None:
    for where in (repo, repo / "sub", repo / "sub" / "deeper"):
        assert read_head(str(where)) == _rev_parse(where) is not None
        assert git_commit(str(where)) == _rev_parse(where)


def test_packed_refs_a_detached_head_and_a_worktree(repo: Path, tmp_path: Path) -> None:
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert read_head(str(repo)) == _rev_parse(repo) is not None
    _git(repo, "checkout", "-q", "--detach", "HEAD~1")
    assert read_head(str(repo)) == _rev_parse(repo) is not None
    _git(repo, "checkout", "-q", "main")
    worktree = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "-b", "side", str(worktree), "HEAD~2")
    (worktree / "g").write_text("x")
    _git(worktree, "add", "g")
    _git(worktree, "commit", "-q", "-m", "side")
    assert (worktree / ".git").is_file()
    assert read_head(str(worktree)) == _rev_parse(worktree) is not None
    assert read_head(str(worktree)) != read_head(str(repo))


def test_where_the_files_cannot_say_git_answers(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    _git(unborn, "init", "-q")
    outside = tmp_path / "outside"
    outside.mkdir()
    assert read_head(str(unborn)) is None and git_commit(str(unborn)) is None
    assert read_head(str(outside)) is None and git_commit(str(outside)) == _rev_parse(outside)
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))  # git finds the repository from anywhere
    assert read_head(str(outside)) is None
    assert git_commit(str(outside)) == _rev_parse(repo) is not None


def test_what_is_not_an_object_id_is_left_to_git(repo: Path) -> None:
    ref = repo / ".git" / "refs" / "heads" / "main"
    ref.write_text("ref: refs/heads/elsewhere\n")  # a symbolic ref in a branch file
    assert read_head(str(repo)) is None
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/.invalid\n")  # what a reftable leaves
    assert read_head(str(repo)) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the repository to another user")
def test_a_repository_of_another_user_is_left_to_git(repo: Path) -> None:
    os.chown(repo, 54321, 54321)
    assert read_head(str(repo)) is None  # git's safe.directory rule decides, not us
    assert git_commit(str(repo)) == _rev_parse(repo)


def test_discovery_stops_where_the_file_system_changes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git does not look for a repository across a mount point; neither does read_head (here the
    repository's root is made to look like another file system than its subdirectory)."""
    real_stat = os.stat

    def stat(path: str | os.PathLike[str], *args: object, **kwargs: object) -> object:
        result = real_stat(path, *args, **kwargs)  # type: ignore[arg-type]
        if os.fspath(path) == str(repo):
            return os.stat_result((*result[:2], result.st_dev + 1, *result[3:]))
        return result

    assert read_head(str(repo / "sub")) is not None
    monkeypatch.setattr("probes.cluster.os.stat", stat)
    assert read_head(str(repo / "sub")) is None
    assert read_head(str(repo)) is not None  # from the repository's own file system
