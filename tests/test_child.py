"""The wrapped command as a child (probes.run.child): its own process group, the signals Python
ignores back at their defaults, none of the wrapper's descriptors, shell-style exit codes for a
command that cannot start, and signals forwarded. Real processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from ledger.enums import RunStatus
from probes.run.child import Forwarding, SpawnError, spawn, status_of


def _ignored_signals(pid: int) -> int:
    """The set of signals ``pid`` ignores, as /proc says (bit n - 1 for signal n)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return int(line.split()[1], 16)
    raise AssertionError("no SigIgn line")


def test_exit_codes_and_signals() -> None:
    assert spawn(["true"]).wait() == 0
    assert spawn([sys.executable, "-c", "raise SystemExit(7)"]).wait() == 7
    killed = spawn(["sh", "-c", "kill -9 $$"]).wait()
    assert killed == -9 and status_of(killed) == (RunStatus.KILLED, 137)


def test_commands_that_cannot_start(tmp_path: Path) -> None:
    text = tmp_path / "no-shebang"
    text.write_text("echo hi\n")
    text.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_text("echo hi\n")
    cases = {
        "no-such-command-anywhere": 127,
        str(tmp_path / "missing"): 127,
        str(plain): 126,  # not executable
        str(tmp_path): 126,  # a directory
        str(text): 126,  # not a format the kernel runs
    }
    for command, code in cases.items():
        with pytest.raises(SpawnError) as raised:
            spawn([command])
        assert raised.value.exit_code == code, command


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_the_child_runs_apart_from_the_wrapper(tmp_path: Path) -> None:
    """Its own process group; Python's ignored SIGPIPE and SIGXFSZ back at their defaults; none
    of the wrapper's own descriptors (a ledger's SQLite file, say)."""
    db = tmp_path / "ledger.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    leaked = os.open(tmp_path / "opened-by-a-c-library", os.O_CREAT | os.O_WRONLY)
    os.set_inheritable(leaked, True)  # as a C library may leave one
    out = tmp_path / "fds"
    script = f"ls -l /proc/$$/fd/ > {out}; exec sleep 30"
    ours = spawn(["sh", "-c", script])
    try:
        deadline = time.monotonic() + 10
        while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # the exec into sleep
        assert os.getpgid(ours.pid) == ours.pid != os.getpgid(0)
        for restored in (signal.SIGPIPE, signal.SIGXFSZ):
            assert not _ignored_signals(ours.pid) & (1 << (restored - 1))
        assert str(db) not in out.read_text()
        assert "opened-by-a-c-library" not in out.read_text()
    finally:
        os.close(leaked)
        os.kill(ours.pid, signal.SIGKILL)
        conn.close()
    assert ours.wait() == -signal.SIGKILL


def test_a_reaped_child_is_never_signalled_again() -> None:
    child = spawn(["true"])
    assert child.wait() == 0 and child.wait() == 0
    child.send_signal(signal.SIGTERM)  # its pid may belong to another process by now: a no-op


def test_a_signal_before_the_child_exists_reaches_it_once_it_does() -> None:
    with Forwarding() as forwarding:
        os.kill(os.getpid(), signal.SIGTERM)  # queued: there is no child yet
        child = spawn(["sleep", "30"])
        forwarding.attach(child)
        assert child.wait() == -signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # the child has ended: dropped, not re-raised here
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
