"""``receipts import trainer-state``: a Hugging Face ``trainer_state.json`` as one reported
fine-tuning run, for training that no :class:`~probes.training.callback.ReceiptsCallback`
wrapped.

The file is ``TrainerState`` as ``Trainer`` saves it (``TrainerState.save_to_json``: the
dataclass's fields, keys sorted) in the output directory (``trainer.save_state()``) and in each
``checkpoint-*`` directory. What it gives, and what the run records:

- ``global_step`` (optimizer steps), ``max_steps``, ``epoch``, ``num_train_epochs``, and the
  batch geometry: ``Run.detail``;
- ``total_flos``: the trainer's own estimate (6 x parameters x tokens, summed over processes),
  a ``flop/<model>`` usage, ``reported``;
- ``num_input_tokens_seen``: the input tokens the trainer counted, a ``tokens/<model>`` usage
  (``token``, ``reported``, ``role: training``) where it was counted. The trainer counts them only
  with ``include_num_input_tokens_seen`` on; otherwise the field stays 0, which means "not counted",
  so a 0 records nothing;
- the ``log_history`` entry that ``train()`` logs at its end (``train_runtime`` in seconds,
  ``train_samples_per_second``, ``train_steps_per_second``, ``train_loss``): the run's wall time.
  A checkpoint's state is saved before that entry, so it has no runtime.

GPU-hours are recorded only where the user declares the GPUs (``--gpus 8 --gpu-model H100``):
``declared`` usage of ``gpu/<model>``, GPUs x ``train_runtime`` / 3600, never measured. Without a
runtime they are recorded as not quantified (unknown, not 0).

Idempotent: the run id derives from the file's SHA-256. The whole file is checked before anything
is written. See docs/funnel-and-training.md.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ledger.bounds import MAX_QUANTITY, MAX_SECONDS
from ledger.errors import InputError
from ledger.files import parse_json
from ledger.schema import Category, Provenance, Run, RunStatus, Unit, Usage
from ledger.store import Ledger
from probes.gpu.names import gpu_model_name
from probes.gpu.usage import declared_usage_fields
from probes.ids import id_part
from probes.subjects import RunCost, check_subject, costs_of_runs, subject_records

IMPORTER = "trainer-state"
"""``detail.importer`` of the runs ``receipts import trainer-state`` writes."""

_DETAIL = (
    "max_steps", "epoch", "num_train_epochs", "train_batch_size", "logging_steps",
    "eval_steps", "save_steps",
)  # fmt: skip
_SPEEDS = ("train_samples_per_second", "train_steps_per_second", "train_loss")


class TrainerStateImport(BaseModel):
    """What ``receipts import trainer-state`` did."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    file: str
    """The state file."""
    sha256: str
    """SHA-256 of the file's bytes."""
    run: str
    """The run written (or already present)."""
    global_step: int
    """Optimizer steps taken."""
    runtime_s: float | None
    """``train_runtime`` of the final log entry; ``None`` where the file has none (a checkpoint)."""
    total_flos: float | None
    """The trainer's FLOP estimate; ``None`` where the file gives none."""
    tokens_seen: int | None
    """Input tokens the trainer counted; ``None`` where it did not count them."""
    gpu_hours: float | None = None
    """Declared GPUs x runtime; ``None`` where no GPUs were declared or no runtime is known."""
    cost: RunCost | None = None
    """The run's cost as ``receipts report`` computes it."""
    appended: int = 0
    """Ledger records new."""
    superseded: int = 0
    """Ledger records corrected."""
    unchanged: int = 0
    """Ledger records already present."""


def _number(obj: dict[str, Any], key: str, where: str, bound: float, *, integer: bool) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if integer and isinstance(value, float) and value.is_integer():
        value = int(value)
    kind = "a non-negative integer" if integer else "a non-negative number"
    if (
        isinstance(value, bool)
        or not isinstance(value, int if integer else int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InputError(f"{where}: field {key}: expected {kind}, found {value!r}")
    if value > bound:
        raise InputError(
            f"{where}: field {key}: {value:g} is above the plausible bound of {bound:g}"
        )
    return value


def _final_log(history: list[Any], where: str) -> dict[str, Any] | None:
    """The entry ``train()`` logs when it ends (the last one with ``train_runtime``)."""
    for i in range(len(history) - 1, -1, -1):
        entry = history[i]
        if not isinstance(entry, dict):
            raise InputError(
                f"{where}: field log_history[{i}]: expected an object, found {type(entry).__name__}"
            )
        if "train_runtime" in entry:
            return entry
    return None


def read_trainer_state(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and its parsed, checked ``TrainerState``.

    Raises:
        InputError: unreadable, not JSON, not an object, or a field the import reads is missing
            or not a plausible number (the message names the file and the field).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    where = str(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not a UTF-8 text file") from None
    try:
        state = parse_json(text, where)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: malformed JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(state, dict):
        raise InputError(
            f"{where}: expected a TrainerState object (trainer_state.json), found "
            f"{type(state).__name__}"
        )
    if "global_step" not in state or "log_history" not in state:
        raise InputError(
            f"{where}: field global_step or log_history: missing (not a Hugging Face "
            "trainer_state.json)"
        )
    if not isinstance(state["log_history"], list):
        raise InputError(
            f"{where}: field log_history: expected a list, found "
            f"{type(state['log_history']).__name__}"
        )
    return data, state


def import_trainer_state(
    ledger: Ledger,
    path: Path,
    *,
    subject: str,
    stage: str = "sft",
    category: Category = Category.FINE_TUNING,
    model: str | None = None,
    gpus: int | None = None,
    gpu_model: str | None = None,
    create_subject: bool = False,
) -> TrainerStateImport:
    """Import a ``trainer_state.json`` as one reported run (see the module's docstring).

    Raises:
        InputError: the file is unreadable or malformed, or ``--gpus`` is not positive (nothing
            is written).
        NotFoundError: the subject does not exist and ``create_subject`` is off.
    """
    check_subject(subject)
    if gpus is not None and gpus <= 0:
        raise InputError(f"--gpus: expected a positive number of GPUs, found {gpus}")
    data, state = read_trainer_state(path)
    where = str(path)
    step = _number(state, "global_step", where, 1e12, integer=True)
    if step is None:
        raise InputError(f"{where}: field global_step: expected a non-negative integer, found null")
    flos = _number(state, "total_flos", where, MAX_QUANTITY[Unit.FLOP], integer=False)
    tokens = _number(state, "num_input_tokens_seen", where, MAX_QUANTITY[Unit.TOKEN], integer=True)
    final = _final_log(state["log_history"], where)
    runtime = None
    speeds: dict[str, Any] = {}
    if final is not None:
        at = f"{where}: log_history[{state['log_history'].index(final)}]"
        runtime = _number(final, "train_runtime", at, MAX_SECONDS, integer=False)
        speeds = {k: final[k] for k in _SPEEDS if isinstance(final.get(k), int | float)}
        if tokens is None:
            tokens = _number(
                final, "num_input_tokens_seen", at, MAX_QUANTITY[Unit.TOKEN], integer=True
            )
    tokens = tokens or None  # 0: include_num_input_tokens_seen was off; not counted
    sha = hashlib.sha256(data).hexdigest()
    name = id_part(model or subject)
    run_id = f"{subject}/{id_part(stage)}/trainer-state-{sha[:12]}"
    citation = f"{path.name} (sha256 {sha[:12]}), Hugging Face TrainerState"
    detail: dict[str, Any] = {
        "importer": IMPORTER,
        "file": path.name,
        "sha256": sha,
        "global_step": step,
        **{k: state[k] for k in _DETAIL if isinstance(state.get(k), int | float)},
        **speeds,
    }
    if gpus is not None:
        detail["declared_gpus"] = gpus
    new_subject = subject_records(ledger, subject, create_subject)
    run = Run(
        id=run_id,
        subject=subject,
        stage=stage,
        category=category,
        name=f"training reported in {path.name}",
        status=RunStatus.REPORTED,
        wall_time_s=runtime,
        citation=citation,
        note=None if runtime is not None else "no train_runtime in log_history (a checkpoint?)",
        detail=detail,
    )
    usages: list[Usage] = []
    if flos is not None:
        usages.append(
            Usage(
                id=f"{run_id}/flop",
                run=run_id,
                resource=f"flop/{name}",
                unit=Unit.FLOP,
                quantity=float(flos),
                provenance=Provenance.REPORTED,
                citation=citation,
                note="the trainer's own estimate (6 x parameters x tokens), not counted",
                detail={"source": "TrainerState.total_flos"},
            )
        )
    if tokens is not None:
        usages.append(
            Usage(
                id=f"{run_id}/tokens",
                run=run_id,
                resource=f"tokens/{name}",
                unit=Unit.TOKEN,
                quantity=float(tokens),
                provenance=Provenance.REPORTED,
                citation=citation,
                detail={"role": "training", "source": "TrainerState.num_input_tokens_seen"},
            )
        )
    gpu_hours = None
    if gpus is not None:
        gpu = gpu_model_name(gpu_model) if gpu_model else None
        fields = declared_usage_fields(run_id, gpus, gpu, runtime or 0.0)
        if runtime is None:
            fields["quantity"] = None
            fields["note"] += "; the file has no train_runtime: GPU-hours unknown, not 0"
        else:
            gpu_hours = fields["quantity"]
        usages.append(Usage.model_validate({**fields, "citation": citation}))
    done = ledger.record([*new_subject, run, *usages])
    return TrainerStateImport(
        file=str(path),
        sha256=sha,
        run=run_id,
        global_step=step,
        runtime_s=runtime,
        total_flos=flos,
        tokens_seen=tokens,
        gpu_hours=gpu_hours,
        cost=costs_of_runs(ledger, subject, [run_id])[run_id],
        appended=done.appended,
        superseded=done.superseded,
        unchanged=done.unchanged,
    )
