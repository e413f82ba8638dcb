"""GPU model names: one rule for Slurm gres types and NVML device names.

:func:`gpu_model_name` gives the model name the ledger prices by (resource ``gpu/<model>``), from a
Slurm gres type (``nvidia_h100_80gb_hbm3``) or an NVML name (``NVIDIA H100 80GB HBM3``) alike.
"""

from __future__ import annotations

import functools
import re

GPU_MODELS = {
    name: name.upper()
    for name in (
        "a10", "a10g", "a16", "a30", "a40", "a100", "a800", "b100", "b200", "gb200", "gh200",
        "h20", "h100", "h200", "h800", "l4", "l20", "l40", "l40s", "mi210", "mi250", "mi250x",
        "mi300a", "mi300x", "p100", "t4", "v100",
    )
}  # fmt: skip
"""Lower-case tokens of Slurm gres types (and NVML names) mapped to ledger model names."""


@functools.lru_cache(maxsize=256)
def gpu_model_name(raw: str) -> str:
    """Ledger model name of a Slurm gres type or NVML name: ``nvidia_h100_80gb_hbm3`` -> ``H100``.

    The name is cut into lower-case alphanumeric tokens (``NVIDIA GH200 480GB`` gives ``nvidia``,
    ``gh200``, ``480gb``). The longest known model token wins (``l40s`` over ``l40``); a token
    matches when no digit follows it (``h100nvl`` and ``H100 NVL`` are an H100, ``a100`` is not
    an A10; variants share their model: ``V100S`` is a V100).

    Unknown names are upper-cased, each run of characters other than letters, digits, ``.``,
    ``_`` and ``-`` becoming one ``-``: ``NVIDIA GeForce RTX 4090`` -> ``NVIDIA-GEFORCE-RTX-4090``,
    ``rtx_6000`` -> ``RTX_6000``; an empty name is ``unknown``. Cached: a node's devices share a
    name, and every heartbeat names them again.
    """
    best = ""
    for token in re.split(r"[^a-z0-9]+", raw.lower()):
        for key in GPU_MODELS:
            if len(key) > len(best) and re.match(rf"{key}(?![0-9])", token):
                best = key
    if best:
        return GPU_MODELS[best]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-").upper() or "unknown"
