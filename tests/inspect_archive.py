"""Build inspect_ai ``.eval`` archives for tests (a helper module, not a test).

The layout is the one inspect_ai's ``EvalRecorder`` (``src/inspect_ai/log/_recorders/eval.py``)
writes, member by member and in its order: ``_journal/start.json`` (``LogStart``: version,
eval, plan) at the start; per flush, each finished sample as ``samples/<id>_epoch_<epoch>.json``
(an ``EvalSample``, the same object a JSON log lists under ``samples``) and its summary in
``_journal/summaries/<k>.json``; at the end ``summaries.json``, ``reductions.json`` and
``header.json`` (the ``EvalLog`` without samples). Deflate-compressed, compact JSON, as inspect
writes it. The archive is made from a JSON log, so the two are the same eval by construction.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any


def _summary(sample: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "epoch", "input", "target", "scores", "model_usage", "total_time", "error")
    return {k: sample[k] for k in keys if k in sample}


def eval_archive(
    log: dict[str, Any],
    *,
    drop: tuple[str, ...] = (),
    replace: dict[str, str | bytes] | None = None,
) -> bytes:
    """The ``.eval`` archive equivalent to the JSON log ``log``; ``drop`` leaves members out and
    ``replace`` writes a member's raw bytes instead (bad-input cases)."""
    samples = log.get("samples") or []
    start = {k: log[k] for k in ("version", "eval", "plan") if k in log}
    header = {k: v for k, v in log.items() if k not in ("samples", "reductions")}
    members: list[tuple[str, Any]] = [("_journal/start.json", start)]
    members += [(f"samples/{s['id']}_epoch_{s.get('epoch', 1)}.json", s) for s in samples]
    members += [
        ("_journal/summaries/1.json", [_summary(s) for s in samples]),
        ("summaries.json", [_summary(s) for s in samples]),
        ("reductions.json", log.get("reductions") or []),
        ("header.json", header),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as zf:
        for name, value in members:
            if name in drop:
                continue
            body = (replace or {}).get(name)
            zf.writestr(name, body if body is not None else json.dumps(value))
    return buffer.getvalue()
