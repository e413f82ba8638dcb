"""Curation funnels: each step of a data pipeline metered as a run, with the records it took in and
let out (:mod:`probes.funnel.steps`), and the ``receipts funnel`` command (:mod:`probes.funnel.cli`)
that shows them with the cost of each step.

Public API: :class:`Funnel` (executes and records the steps), :class:`Step` (one step being
executed) and :class:`FunnelError`. The report that reads the funnels back and prices them lives
with the other reports, in :mod:`ledger.funnel`. Names load on first use: importing the package
pulls in neither pydantic nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.funnel.steps import Funnel, FunnelError, Step

__all__ = ["Funnel", "FunnelError", "Step"]

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "steps"))
