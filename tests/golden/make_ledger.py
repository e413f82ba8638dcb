"""Write a golden ledger: a small SQLite file with one of every kind of entry, a correction and a
heartbeat, in the entry format of the receipts that runs this script.

    python tests/golden/make_ledger.py            # tests/golden/ledger-format-<N>.db
    python tests/golden/make_ledger.py OUT.db

Run it once per release that changes the entry format (``ledger/formats.py``) and commit the
file: ``tests/test_golden_ledger.py`` opens every ``ledger-*.db`` here, reports and verifies it,
so a later change that cannot read an old ledger fails a test. Never regenerate an existing file:
it stands for what that release wrote. Only the public Python API writes (plus one SQL update
that makes the heartbeat look like a dead wrapper's on another host), so older releases can run
this script too (``ledger-unversioned.db`` was written by the release before formats existed).
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from ledger.liveness import beat
from ledger.schema import (
    Category,
    Estimate,
    EvalItem,
    FunnelStep,
    HeadlineFigure,
    PriceCard,
    Provenance,
    Run,
    RunStatus,
    Scope,
    Source,
    Subject,
    Term,
    Unit,
    Usage,
)
from ledger.store import Ledger

HERE = Path(__file__).resolve().parent
SUBJECT = "golden-model"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2025, 3, 1, 9, 26, tzinfo=UTC)


def _run(run_id: str, stage: str, category: Category, status: RunStatus, **more: object) -> Run:
    subject = more.pop("subject", SUBJECT)
    return Run.model_validate(
        {
            "id": run_id,
            "subject": subject,
            "stage": stage,
            "category": category,
            "name": run_id,
            "status": status,
            **more,
        }
    )


def records() -> list[object]:
    """Every kind of record the ledger stores, in an order the store accepts."""
    sft = _run(
        "golden-sft",
        "sft",
        Category.FINE_TUNING,
        RunStatus.SUCCEEDED,
        started_at=T0,
        ended_at=T1,
        wall_time_s=1560.0,
        host="node0",
        node_rank=0,
        job_id="4242",
        command=["torchrun", "train.py"],
        git_commit="0" * 40,
        exit_code=0,
        detail={"gpus": 16},
    )
    gpu = "gpu/golden-accel"
    return [
        Source(tag="golden-paper", title="A golden paper", url="https://example.org/golden"),
        Subject(id="golden-base", name="Golden base", citation="golden-paper"),
        Subject(id=SUBJECT, name="Golden model", base="golden-base", description="fixture"),
        _run(
            "golden-pretrain",
            "pretraining",
            Category.PRETRAINING,
            RunStatus.REPORTED,
            subject="golden-base",
            citation="golden-paper",
        ),
        _run("golden-data", "traces", Category.DATA, RunStatus.SUCCEEDED),
        sft,
        _run("golden-eval", "eval", Category.EVALUATION, RunStatus.SUCCEEDED),
        _run("golden-sft-2", "sft", Category.RND, RunStatus.RUNNING, started_at=T1),
        Usage(
            id="golden-pretrain/gpu",
            run="golden-pretrain",
            resource=gpu,
            unit=Unit.GPU_HOUR,
            quantity=1000.0,
            quantity_low=800.0,
            quantity_high=1200.0,
            provenance=Provenance.ESTIMATED,
            estimate=Estimate(
                formula="6 * N * D / flops_per_gpu_hour",
                inputs={"N": 1e9, "D": 2e10, "flops_per_gpu_hour": 1.2e18},
            ),
        ),
        Usage(
            id="golden-data/api",
            run="golden-data",
            resource="api/golden-llm",
            unit=Unit.INPUT_TOKEN,
            quantity=2_000_000.0,
            provenance=Provenance.REPORTED,
            citation="golden-paper",
        ),
        Usage(
            id="golden-sft/gpu",
            run="golden-sft",
            resource=gpu,
            unit=Unit.GPU_HOUR,
            quantity=6.5,
            provenance=Provenance.MEASURED,
            detail={"method": "wall"},
        ),
        Usage(
            id="golden-sft/busy",
            run="golden-sft",
            resource=gpu,
            unit=Unit.GPU_HOUR_BUSY,
            quantity=5.0,
            provenance=Provenance.MEASURED,
        ),
        Usage(
            id="golden-sft/energy",
            run="golden-sft",
            resource="energy/gpu",
            unit=Unit.KWH,
            quantity=4.2,
            provenance=Provenance.MEASURED,
            note="energy counter",
        ),
        Usage(
            id="golden-eval/gpu",
            run="golden-eval",
            resource=gpu,
            unit=Unit.GPU_HOUR,
            quantity=None,
            provenance=Provenance.REPORTED,
            citation="golden-paper",
        ),
        PriceCard(
            id="golden-accel-on-demand",
            resource=gpu,
            unit=Unit.GPU_HOUR,
            price_usd=Decimal("2.50"),
            date=date(2025, 1, 1),
            vendor="Golden Cloud",
            term=Term.ON_DEMAND,
            source="tests/golden/make_ledger.py",
        ),
        PriceCard(
            id="golden-llm-input",
            resource="api/golden-llm",
            unit=Unit.INPUT_TOKEN,
            price_usd=Decimal("3.00"),
            per=1_000_000,
            date=date(2025, 1, 1),
            vendor="Golden AI",
            term=Term.LIST,
            source="tests/golden/make_ledger.py",
        ),
        Scope(
            id="golden-final-sft",
            subject=SUBJECT,
            label="final SFT run",
            categories=[Category.FINE_TUNING],
            runs=["golden-sft"],
        ),
        Scope(
            id="golden-everything",
            subject=SUBJECT,
            label="everything",
            categories=list(Category),
            include_inherited=True,
        ),
        HeadlineFigure(
            id="golden-headline",
            subject=SUBJECT,
            usd=Decimal("20"),
            said_by="A newspaper",
            quote="trained for under $20",
            citation="golden-paper",
            scope="golden-final-sft",
        ),
        FunnelStep(
            id="golden-funnel/1",
            subject=SUBJECT,
            funnel="curation",
            order=1,
            name="dedupe",
            records_in=1000,
            records_out=100,
            runs=["golden-data"],
            provenance=Provenance.REPORTED,
            citation="golden-paper",
        ),
        EvalItem(
            id="golden-eval/aime-1",
            run="golden-eval",
            benchmark="aime24",
            item_id="1",
            correct=True,
            extracted_answer="42",
            gold_answer="42",
            prompt_tokens=100,
            thinking_tokens=900,
            answer_tokens=12,
            num_waits=1,
            forced_end=False,
            latency_s=3.5,
        ),
        EvalItem(
            id="golden-eval/aime-2",
            run="golden-eval",
            benchmark="aime24",
            item_id="2",
            correct=False,
            extracted_answer="7",
            gold_answer="8",
        ),
        # A correction: the same run again with a note supersedes the first entry.
        sft.model_copy(update={"note": "corrected: 16 GPUs"}),
    ]


def write(path: Path) -> None:
    """Write the golden ledger to ``path`` (which must not exist)."""
    if path.exists():
        raise SystemExit(f"{path} exists: a golden ledger is never regenerated")
    with Ledger(f"sqlite:///{path}") as ledger:
        ledger.record(records())  # type: ignore[arg-type]
        ledger.append_usages(
            run="golden-eval",
            resource="tokens/golden-tokenizer",
            unit=Unit.TOKEN,
            provenance=Provenance.MEASURED,
            quantities=[100.0, 250.0, 650.0],
        )
        snapshot = Usage(
            id="golden-sft-2/gpu",
            run="golden-sft-2",
            resource="gpu/golden-accel",
            unit=Unit.GPU_HOUR,
            quantity=0.25,
            provenance=Provenance.MEASURED,
        )
        beat(ledger, "golden-sft-2", wall_time_s=600.0, interval_s=10.0, usages=[snapshot])
    with closing(sqlite3.connect(path)) as conn:
        with conn:  # a wrapper that died on another host long ago
            conn.execute(
                "UPDATE heartbeats SET host = 'golden-node', beat_at = ?", (T1.isoformat(),)
            )
        conn.execute("PRAGMA journal_mode = DELETE")  # one file: no write-ahead log beside it


def main(argv: list[str]) -> None:
    if argv:
        out = Path(argv[0])
    else:
        from ledger.formats import ENTRY_FORMAT

        out = HERE / f"ledger-format-{ENTRY_FORMAT}.db"
    write(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
