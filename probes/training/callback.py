"""Metering Hugging Face training: a ``TrainerCallback`` that records each ``train()`` as a run.

Python API (``transformers.Trainer`` and TRL's ``SFTTrainer`` alike)::

    receipts = ReceiptsCallback("sqlite:///ledger.db", subject="my-model", stage="sft")
    trainer = SFTTrainer(model=model, args=config, train_dataset=data, callbacks=[receipts])
    with receipts_training(trainer, receipts):  # closes the run `failed` if train() raises
        trainer.train()

At train begin the callback writes a ``running`` run and starts a
:class:`~probes.run.session.MeteredRun` (GPU time and energy through the meter, heartbeats); at
train end it closes the run ``succeeded`` with:

- ``tokens/<tokenizer or model>`` (``token``, ``measured``, detail ``role: training``): the
  non-padding input tokens the trainer counted, ``TrainerState.num_input_tokens_seen`` (the
  callback sets ``include_num_input_tokens_seen="non_padding"`` where it was ``"no"``, so the
  trainer sums each batch's ``attention_mask``, or counts tokens that are not the pad token where
  a collator sends none, as padding-free collators do);
- ``flop/<model>`` (``flop``, informational): ``TrainerState.total_flos`` (the trainer's own
  6 x parameters x tokens estimate);
- optimizer steps, epochs and the batch geometry in ``Run.detail``.

Transformers has no exception hook, so a ``train()`` that raises leaves the run open;
:func:`receipts_training` closes it ``failed`` (``killed`` on Ctrl-C) with what it cost so far.
A process that dies outright is closed later as ``interrupted`` at its last heartbeat, which
carries the token count up to the last optimizer step.

Inside ``receipts run`` (which names its run to the job in ``RECEIPTS_PARENT_RUN``, its
ledger's id in ``RECEIPTS_PARENT_LEDGER`` and the node it meters in ``RECEIPTS_PARENT_HOST``), a
callback on that node writing to that same ledger links its run to the wrapper's:
``detail.parent_run`` names it, and the callback meters no GPU of its own, since the wrapper
already meters every device of the node (:func:`probes.run.parent.wrapping_run`). The tokens,
FLOP and steps are the callback's; the GPU time is the wrapper's; a report counts the job once.
On another node of the job (the environment travels with ``srun`` and ``mpirun``), writing to
another ledger, or outside a wrapper, the callback meters as usual.

Under torchrun (or ``accelerate launch``) one process per node meters that node's devices: the
one with local rank 0 (:attr:`probes.run.cluster.ClusterContext.meters_node` and
``TrainerState.is_local_process_zero``). The token and FLOP counts are already summed over every
process by the trainer, so only the global rank 0 records them: folding the nodes' runs by job id
never counts them twice. Constructing the callback touches neither CUDA, NVML nor the ledger; the
other ranks never open the ledger.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ledger.errors import LedgerError
from ledger.schema import PARENT_RUN, Category, Provenance, RunStatus, Unit, Usage
from ledger.store import Ledger
from probes.errors import ProbeError
from probes.gpu.meter import Clock, GpuMeter
from probes.run.cluster import ClusterContext, from_environ
from probes.run.parent import wrapping_run
from probes.run.proctree import descendants
from probes.run.session import MeteredRun, RunSpec

logger = logging.getLogger(__name__)

TokenCounting = Literal["non_padding", "all"]
MeterSource = GpuMeter | Callable[[], GpuMeter | None] | None
"""A meter, a function that opens one (``None`` from it: no GPU), or ``None`` for NVML where it
initialises."""


def _open_meter(source: MeterSource) -> GpuMeter | None:
    if source is None:
        from probes.gpu.nvml import open_meter  # imports pynvml lazily

        return open_meter()
    if callable(source):
        return source()
    return source


def _short_name(*candidates: object) -> str:
    for candidate in candidates:
        text = str(candidate or "").strip().rstrip("/")
        if text:
            return text.rsplit("/", 1)[-1]
    return "unknown"


class ReceiptsCallback(TrainerCallback):
    """Records every ``train()`` of a Trainer as one metered run per node.

    Args:
        ledger: an open ledger, or its URL (opened at train begin on the metering process only,
            closed at train end); ``None``: ``$RECEIPTS_LEDGER``, else the default file.
        subject: subject whose cost the run carries (created if the ledger lacks it).
        stage: pipeline stage of the run.
        category: cost category of the run.
        name: run name (default: the stage).
        tokens_resource: resource of the training tokens; default ``tokens/<name>`` from the
            tokenizer's ``name_or_path``, else the model's, else its ``model_type``.
        count_tokens: how the trainer counts tokens where the user left counting off. A user's
            own ``include_num_input_tokens_seen="all"`` is kept and recorded as such.
        meter: see :data:`MeterSource`. Opened at train begin, never at construction.
        cluster: this process's place in the job; default from the environment at train begin.
        clock, sample_interval_s, heartbeat_s, background: passed to the metered run.
    """

    def __init__(
        self,
        ledger: Ledger | str | None = None,
        subject: str = "",
        *,
        stage: str = "sft",
        category: Category | str = Category.FINE_TUNING,
        name: str | None = None,
        tokens_resource: str | None = None,
        count_tokens: TokenCounting = "non_padding",
        meter: MeterSource = None,
        cluster: ClusterContext | None = None,
        clock: Clock | None = None,
        sample_interval_s: float = 1.0,
        heartbeat_s: float = 10.0,
        background: bool = True,
    ) -> None:
        if not subject:
            raise ProbeError("ReceiptsCallback needs the subject the training run belongs to")
        self.ledger_source = ledger
        self.subject = subject
        self.stage = stage
        self.category = Category(category)
        self.name = name
        self.tokens_resource = tokens_resource
        self.count_tokens = count_tokens
        self.meter = meter
        self.cluster = cluster
        self.run_options: dict[str, Any] = {
            "clock": clock,
            "sample_interval_s": sample_interval_s,
            "heartbeat_s": heartbeat_s,
            "background": background,
        }
        self.metered: MeteredRun | None = None
        """The run being metered, between train begin and train end, on a metering process."""
        self.runs: list[str] = []
        """Ids of the runs this callback closed, in order."""
        self._store: Ledger | None = None
        self._records_totals = False
        self._start: tuple[int, float, int] = (0, 0.0, 0)
        self._flop_resource = "flop/unknown"
        self._tokens_resource = "tokens/unknown"

    # -- Trainer events -------------------------------------------------------------------------

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Turn token counting on (every rank: the count is a collective), then open the run."""
        if args.include_num_input_tokens_seen in ("no", False):
            args.include_num_input_tokens_seen = self.count_tokens
        self._start = (state.global_step, float(state.total_flos), state.num_input_tokens_seen)
        cluster = self.cluster or from_environ()
        if not (cluster.meters_node and state.is_local_process_zero):
            return
        if self.metered is not None:  # a previous train() raised outside receipts_training
            self._close(args, state, RunStatus.FAILED, "a new train() began before this one ended")
        model, tokenizer = kwargs.get("model"), kwargs.get("processing_class")
        config = getattr(model, "config", None)
        model_name = _short_name(
            getattr(config, "_name_or_path", None), getattr(config, "model_type", None)
        )
        self._flop_resource = f"flop/{model_name}"
        self._tokens_resource = self.tokens_resource or (
            f"tokens/{_short_name(getattr(tokenizer, 'name_or_path', None), model_name)}"
        )
        self._records_totals = state.is_world_process_zero
        if isinstance(self.ledger_source, Ledger):
            store = self.ledger_source
        else:
            store = self._store = Ledger(self.ledger_source)
        try:
            parent = wrapping_run(store, cluster=cluster)
        except BaseException:
            self._release()
            raise
        spec = RunSpec(
            subject=self.subject,
            stage=self.stage,
            category=self.category,
            name=self.name,
            command=[sys.executable, *sys.argv],
            working_dir=os.getcwd(),
            detail=None if parent is None else {PARENT_RUN: parent},
        )
        metered = MeteredRun(
            store,
            spec,
            # Inside a wrapped run the wrapper meters the devices: metering them here too would
            # count the job's GPU time twice.
            meter=None if parent is not None else _open_meter(self.meter),
            cluster=cluster,
            job_pids=lambda: descendants(os.getpid()),
            **self.run_options,
        )
        try:
            metered.start()  # an unwritable ledger fails here, before any step is spent
        except BaseException:
            metered.meter.close()
            self._release()
            raise
        self.metered = metered

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Keep the token count in the run's heartbeats up to date."""
        if self.metered is not None:
            self._put_usages(self.metered, args, state)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Close the run ``succeeded`` with its tokens, FLOP, steps and epochs."""
        if self.metered is not None:
            self._close(args, state, RunStatus.SUCCEEDED)

    # -- closing --------------------------------------------------------------------------------

    def abort(
        self,
        args: TrainingArguments,
        state: TrainerState,
        exc: BaseException,
        unsynced_flos: float = 0.0,
    ) -> None:
        """Close the open run ``failed`` (``killed`` for Ctrl-C) after ``train()`` raised.

        Args:
            unsynced_flos: FLOP the trainer counted but had not yet added to ``total_flos``
                (``Trainer.current_flos``, single process only).
        """
        if self.metered is None:
            return  # raised before train begin, on a non-metering rank, or after train end
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        self._close(args, state, status, f"{type(exc).__name__}: {exc}"[:500], unsynced_flos)

    def _usages(
        self, run_id: str, args: TrainingArguments, state: TrainerState, unsynced_flos: float
    ) -> list[Usage]:
        if not self._records_totals:
            return []
        counting = str(args.include_num_input_tokens_seen)
        usages = [
            Usage(
                id=f"{run_id}/tokens",
                run=run_id,
                resource=self._tokens_resource,
                unit=Unit.TOKEN,
                quantity=float(state.num_input_tokens_seen - self._start[2]),
                provenance=Provenance.MEASURED,
                note=None if counting == "non_padding" else "padding included (counting 'all')",
                detail={
                    "role": "training",
                    "counting": counting,
                    "source": "TrainerState.num_input_tokens_seen",
                },
            )
        ]
        flos = float(state.total_flos) - self._start[1] + unsynced_flos
        if flos > 0:  # the trainer stores FLOP at logging steps: none yet is not "zero FLOP"
            usages.append(
                Usage(
                    id=f"{run_id}/flop",
                    run=run_id,
                    resource=self._flop_resource,
                    unit=Unit.FLOP,
                    quantity=flos,
                    provenance=Provenance.MEASURED,
                    note="the trainer's estimate (6 x parameters x tokens per forward-backward)",
                    detail={"source": "TrainerState.total_flos"},
                )
            )
        return usages

    def _put_usages(
        self,
        metered: MeteredRun,
        args: TrainingArguments,
        state: TrainerState,
        unsynced_flos: float = 0.0,
    ) -> None:
        for usage in self._usages(metered.run_id, args, state, unsynced_flos):
            metered.set_usage(usage)

    def _detail(self, args: TrainingArguments, state: TrainerState) -> dict[str, Any]:
        start_step = self._start[0]
        return {
            "steps": state.global_step - start_step,
            "global_step": state.global_step,
            "resumed_from_step": start_step or None,
            "epoch": state.epoch,
            "max_steps": state.max_steps,
            "num_train_epochs": state.num_train_epochs,
            "train_batch_size": state.train_batch_size,
            "gradient_accumulation_steps": args.gradient_accumulation_steps,
            "world_size": args.world_size,
            "token_counting": str(args.include_num_input_tokens_seen),
            "records_job_totals": self._records_totals,
        }

    def _close(
        self,
        args: TrainingArguments,
        state: TrainerState,
        status: RunStatus,
        note: str | None = None,
        unsynced_flos: float = 0.0,
    ) -> None:
        metered, self.metered = self.metered, None
        assert metered is not None and metered.run is not None
        try:
            self._put_usages(metered, args, state, unsynced_flos)
            metered.finish(status, note=note, detail=self._detail(args, state))
            self.runs.append(metered.run_id)
        except LedgerError as exc:
            # Never lose a finished training to the ledger: the run stays open and is closed as
            # interrupted at its last heartbeat.
            logger.warning("receipts: could not close run %s: %s", metered.run_id, exc)
        finally:
            self._release()

    def _release(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@contextmanager
def receipts_training(trainer: Any, callback: ReceiptsCallback | None = None) -> Iterator[Any]:
    """Close the run ``failed`` (``killed`` on Ctrl-C) when the block raises; re-raise.

    Args:
        trainer: a ``transformers.Trainer`` (or subclass, such as TRL's ``SFTTrainer``).
        callback: the receipts callback; added to the trainer where it is not yet one of its
            callbacks. Default: the one the trainer already has.

    Raises:
        ProbeError: no callback given and the trainer has none.
    """
    handler = trainer.callback_handler
    if callback is None:
        found = [cb for cb in handler.callbacks if isinstance(cb, ReceiptsCallback)]
        if not found:
            raise ProbeError(
                "the trainer has no ReceiptsCallback: pass one (callbacks=[...]) or give it here"
            )
        callback = found[0]
    elif callback not in handler.callbacks:
        trainer.add_callback(callback)
    try:
        yield callback
    except BaseException as exc:
        single = getattr(trainer.args, "world_size", 1) == 1
        unsynced = float(getattr(trainer, "current_flos", 0.0) or 0.0) if single else 0.0
        callback.abort(trainer.args, trainer.state, exc, unsynced)
        raise
