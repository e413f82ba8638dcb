"""The ledger's enumerations, kept free of heavy imports so that the CLI can build its options
without loading pydantic or SQLAlchemy (``receipts --help`` stays fast)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Category", "Provenance", "RunStatus", "Term", "Tier", "Unit"]


class Category(StrEnum):
    """Where a cost belongs. Pretraining is always *inherited* from an ancestor subject."""

    PRETRAINING = "pretraining"
    DATA = "data"
    FINE_TUNING = "fine_tuning"
    RND = "rnd"
    EVALUATION = "evaluation"


class Provenance(StrEnum):
    """How a quantity is known."""

    MEASURED = "measured"
    """A probe saw it happen."""
    REPORTED = "reported"
    """A paper, model card or log says so; a citation is required."""
    ESTIMATED = "estimated"
    """A documented formula produced it from stored inputs, with a low/high range."""
    DECLARED = "declared"
    """The user stated it (``--gpus 8 --gpu-model H100``) where nothing could measure it."""


class RunStatus(StrEnum):
    """Life cycle of a run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"
    INTERRUPTED = "interrupted"
    REPORTED = "reported"
    """Known only from a report: nobody watched it run."""


class Unit(StrEnum):
    """Units a usage can be counted in; a price card prices exactly one of them."""

    GPU_HOUR = "gpu_hour"
    """Allocated device time (devices x wall time): what a cloud bills."""
    GPU_HOUR_BUSY = "gpu_hour_busy"
    """Utilisation-weighted device time: how much of the allocation did work. Not billed."""
    INPUT_TOKEN = "input_token"
    """Tokens sent to an API (uncached)."""
    OUTPUT_TOKEN = "output_token"
    """Tokens an API generated, visible ones."""
    THINKING_TOKEN = "thinking_token"
    """Reasoning tokens an API generated; priced as output tokens where no card prices them."""
    CACHED_INPUT_TOKEN = "cached_input_token"
    """Input tokens read from a provider's prompt cache."""
    CACHE_WRITE_TOKEN = "cache_write_token"
    """Input tokens written to a provider's prompt cache."""
    TOKEN = "token"
    """Tokens counted with a tokenizer (datasets, training, local generation). Not billed."""
    CALL = "call"
    """API requests. Not billed unless a card prices them."""
    PERSON_HOUR = "person_hour"
    """Human time (labelling, inspection)."""
    KWH = "kwh"
    """Energy. Not billed unless a card prices it (a rented GPU-hour includes its power)."""
    FLOP = "flop"
    """Floating-point operations. Not billed."""
    DEVICE = "device"
    """One accelerator bought outright: purchase-price cards use it; no usage is counted in it (the
    owned-hardware basis amortises these prices over a lifetime, ``ledger/estimators.py``)."""
    USD = "usd"
    """US dollars, where a cost was published only as money ("under $500 of API calls"): counted
    at face value, with the bound the source gives as the range; no price card applies."""


class Tier(StrEnum):
    """Whether a price was actually charged, or stands in for one that would have been."""

    PAID = "paid"
    FREE = "free"
    PAID_EQUIVALENT = "paid_equivalent"
    """What the same work costs on the nearest paid offer (used where the real tier was free)."""


class Term(StrEnum):
    """Commitment behind a price."""

    ON_DEMAND = "on-demand"
    RESERVED = "reserved"
    ONE_YEAR = "1-year"
    THREE_YEAR = "3-year"
    LIST = "list"
    FREE_TIER = "free-tier"
    WAGE = "wage"
