"""Display names, one mapping for every report: the terminal, Markdown, LaTeX and HTML all call a
category and a unit the same way (``fine-tuning``, ``R&D``, ``person-hours``). Stored values
keep their enum spelling (``fine_tuning``, ``rnd``); only what a person reads goes through here.
"""

from __future__ import annotations

from ledger.enums import Category, Unit

CATEGORY_NAMES: dict[Category, str] = {
    Category.PRETRAINING: "pretraining",
    Category.DATA: "data",
    Category.FINE_TUNING: "fine-tuning",
    Category.RND: "R&D",
    Category.EVALUATION: "evaluation",
}
"""What a reader sees for each category."""

UNIT_NAMES: dict[Unit, str] = {
    Unit.GPU_HOUR: "GPU-hours",
    Unit.GPU_HOUR_BUSY: "busy GPU-hours",
    Unit.INPUT_TOKEN: "input tokens",
    Unit.OUTPUT_TOKEN: "output tokens",
    Unit.THINKING_TOKEN: "thinking tokens",
    Unit.CACHED_INPUT_TOKEN: "cached input tokens",
    Unit.CACHE_WRITE_TOKEN: "cache-write tokens",
    Unit.TOKEN: "tokens",
    Unit.CALL: "API calls",
    Unit.PERSON_HOUR: "person-hours",
    Unit.KWH: "kWh",
    Unit.FLOP: "FLOP",
    Unit.USD: "USD (published as money)",
}
"""What a reader sees for each unit, plural (``1,024 tokens``)."""

TOKEN_ROLES: dict[Category, str] = {
    Category.DATA: "dataset",
    Category.FINE_TUNING: "training",
    Category.RND: "training (R&D)",
    Category.EVALUATION: "eval",
    Category.PRETRAINING: "pretraining",
}
"""What tokenizer-counted tokens (``token``) of a run in each category are: a dataset counted
in a data run, the tokens a trainer saw, the prompts and answers of an eval."""


def category_name(category: Category | str, inherited: bool = False) -> str:
    """``fine-tuning``, ``R&D``; ``inherited pretraining`` for an ancestor's cost."""
    name = CATEGORY_NAMES[Category(category)]
    return f"inherited {name}" if inherited else name


def unit_name(unit: Unit | str) -> str:
    """``GPU-hours``, ``person-hours``, ``API calls``."""
    return UNIT_NAMES[Unit(unit)]
