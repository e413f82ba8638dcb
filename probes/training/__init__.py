"""Metering Hugging Face training (``transformers.Trainer``, TRL's ``SFTTrainer``): each
``train()`` recorded as a metered run, with its training tokens (:mod:`probes.training.callback`).

Public API: :class:`ReceiptsCallback` and :func:`receipts_training`. They load on first use:
importing the package does not import transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.training.callback import ReceiptsCallback, receipts_training

__all__ = ["ReceiptsCallback", "receipts_training"]

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "callback"))
