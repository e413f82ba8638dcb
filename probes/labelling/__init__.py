"""Human labelling time: a timer kept in the ledger (:mod:`~probes.labelling.timer`,
``receipts label start|stop``) and Label Studio's exports (:mod:`~probes.labelling.label_studio`,
``receipts import label-studio``), both priced as ``labour/annotator`` person-hours. Their
results are in :mod:`~probes.labelling.schema`, their commands in :mod:`~probes.labelling.cli`.

Public API: :func:`start_timer`, :func:`stop_timer`, :func:`open_timers`,
:func:`timer_status`, :func:`read_label_studio`, :func:`import_label_studio`, and the results
:class:`StoppedTimer`, :class:`TimerStatus` and :class:`LabelStudioImport`. Names load on first
use: importing the package pulls in neither pydantic nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.labelling.label_studio import import_label_studio, read_label_studio
    from probes.labelling.schema import LabelStudioImport, StoppedTimer, TimerStatus
    from probes.labelling.timer import open_timers, start_timer, stop_timer, timer_status

_WHERE = {
    "import_label_studio": "label_studio",
    "read_label_studio": "label_studio",
    "LabelStudioImport": "schema",
    "StoppedTimer": "schema",
    "TimerStatus": "schema",
    "open_timers": "timer",
    "start_timer": "timer",
    "stop_timer": "timer",
    "timer_status": "timer",
}

__all__ = ["LabelStudioImport", "StoppedTimer", "TimerStatus", "import_label_studio",
           "open_timers", "read_label_studio", "start_timer", "stop_timer",
           "timer_status"]  # fmt: skip

__getattr__ = lazy_exports(__name__, _WHERE)
