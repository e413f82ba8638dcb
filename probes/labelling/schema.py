"""The labelling package's contract: what a timer and a Label Studio import write and return.

The constants say how labelling runs are told apart in the ledger; the records are the results
``receipts label stop`` and ``receipts import label-studio`` print (``--json``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ledger.schema import Run, Usage
from probes.subjects import RunCost

STAGE = "labelling"
"""Stage of timer runs, and the default stage of imported ones."""
RESOURCE = "labour/annotator"
"""What labelling time is priced as (``ledger/data/prices/labour.yaml``)."""
TIMER = "labelling"
"""``detail["timer"]`` of a timer run: how ``label stop`` tells timers from other runs."""
IMPORTER = "label-studio"
"""``detail["importer"]`` of the runs a Label Studio import writes."""


class _Model(BaseModel):
    """Frozen, closed records."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class StoppedTimer(_Model):
    """What ``receipts label stop`` did."""

    run: Run
    """The run as closed."""
    usage: Usage
    """Its person-hours."""
    cost: RunCost
    """Its cost at the annotator-hour cards."""


class AnnotatorTime(_Model):
    """One annotator's imported time."""

    annotator: str
    """Email or ``user-<id>``."""
    submitted: int
    """Annotations submitted."""
    submitted_s: float
    """Their lead time, seconds."""
    skipped: int
    """Annotations skipped (``was_cancelled``)."""
    skipped_s: float
    """Their lead time, seconds (billed, shown apart)."""
    without_lead_time: int
    """Annotations without a lead_time: recorded as unquantified, not 0."""


class LabelStudioImport(_Model):
    """What ``receipts import label-studio`` did."""

    file: str
    """The export."""
    project: str | None
    """Label Studio project id, where the export names one."""
    tasks: int
    """Tasks read."""
    annotators: list[AnnotatorTime]
    """Per annotator, in order of appearance."""
    submitted: int
    """Annotations submitted."""
    submitted_s: float
    """Their seconds."""
    skipped: int
    """Annotations skipped or cancelled."""
    skipped_s: float
    """Their seconds."""
    without_lead_time: int
    """Annotations without a lead_time."""
    drafts_ignored: int
    """Drafts in the export (not counted)."""
    costs: list[RunCost]
    """Cost of each run written (submitted work first, then skipped)."""
    appended: int = 0
    """Ledger records new."""
    superseded: int = 0
    """Ledger records corrected."""
    unchanged: int = 0
    """Ledger records already present."""


class TimerSession(_Model):
    """One labelling timer, open or closed, as ``receipts label status`` lists it."""

    run: str
    """The timer's run id."""
    subject: str
    """Subject labelled for."""
    stage: str
    """The run's stage (``labelling``)."""
    task: str | None
    """What is being labelled (``--task``)."""
    annotator: str | None
    """Who labels (``--annotator``): the role priced as ``labour/annotator``."""
    host: str | None
    """Machine the timer was started on."""
    started_at: datetime
    """When ``label start`` ran (UTC)."""
    stopped_at: datetime | None
    """When ``label stop`` ran (UTC); ``None`` while the timer is open."""
    elapsed_s: float
    """Seconds from start to stop, or to now for an open timer."""
    person_hours: float | None
    """Recorded person-hours of a closed timer; ``None`` while open (nothing recorded yet)."""


class TimerStatus(_Model):
    """What ``receipts label status`` shows: the open timers and the latest closed ones."""

    now: datetime
    """When the status was taken (UTC): open timers' elapsed time runs to it."""
    open: list[TimerSession]
    """Timers still running, oldest first."""
    recent: list[TimerSession]
    """Closed timers, most recently stopped first, at most the number asked for."""
