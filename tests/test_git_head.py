"""The git commit a run records: what ``git rev-parse HEAD`` says. Real repositories made with real
git."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from probes.run.cluster import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
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
        assert git_commit(str(where)) == _rev_parse(where) is not None


def test_a_detached_head_and_a_worktree(repo: Path, tmp_path: Path) -> None:
    _git(repo, "checkout", "-q", "--detach", "HEAD~1")
    assert git_commit(str(repo)) == _rev_parse(repo) is not None
    _git(repo, "checkout", "-q", "main")
    worktree = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "-b", "side", str(worktree), "HEAD~2")
    (worktree / "g").write_text("x")
    _git(worktree, "add", "g")
    _git(worktree, "commit", "-q", "-m", "side")
    assert git_commit(str(worktree)) == _rev_parse(worktree) is not None
    assert git_commit(str(worktree)) != git_commit(str(repo))


def test_no_commit_outside_a_repository_or_before_the_first_commit(tmp_path: Path) -> None:
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    _git(unborn, "init", "-q")
    assert git_commit(str(unborn)) is None
    assert git_commit(str(tmp_path / "no-such-directory")) is None
