"""Shared fixtures: real SQLite files, a real PostgreSQL database per test, the CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from ledger.schema import Run, Subject
from ledger.store import Ledger

DATA = Path(__file__).parent / "data"
PG_ENV = "RECEIPTS_TEST_POSTGRES_URL"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a server, PostgreSQL tests skip, except under `make test`, where they must run."""
    if os.environ.get(PG_ENV):
        return
    if os.environ.get("RECEIPTS_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError(f"RECEIPTS_REQUIRE_POSTGRES=1 but {PG_ENV} is not set")
    skip = pytest.mark.skip(reason=f"no PostgreSQL server ({PG_ENV} unset; `make test` starts one)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def anchor_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """Every test signs checkpoints with its own key into its own witness directory (see
    ledger.anchor), never the user's; returns ``(key_dir, witness_dir)``."""
    root = tmp_path_factory.mktemp("anchor")
    monkeypatch.setenv("RECEIPTS_KEY_DIR", str(root / "key"))
    monkeypatch.setenv("RECEIPTS_WITNESS_DIR", str(root / "witness"))
    return root / "key", root / "witness"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    base = make_url(os.environ[PG_ENV])
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A ledger file in a temporary directory (created on first open)."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest) -> str:
    """The same tests against SQLite and PostgreSQL: the store's contract suite."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """An open, empty ledger on each backend."""
    with Ledger(ledger_url) as opened:
        yield opened


@pytest.fixture
def demo_run() -> tuple[Subject, Run]:
    """A subject and one fine-tuning run to hang usages on."""
    subject = Subject(id="demo", name="Demo model")
    run = Run(
        id="demo/sft",
        subject="demo",
        stage="sft",
        category="fine_tuning",
        name="SFT",
        status="reported",
        citation="test",
    )
    return subject, run


@pytest.fixture
def runner() -> CliRunner:
    """Typer's runner with stdout and stderr kept apart."""
    return CliRunner()
