"""Evals: s1's budget forcing over transformers, vLLM or an OpenAI-style server, recorded as
metered runs with per-item results; importers for lm-evaluation-harness and inspect_ai logs.

The names below are loaded on first use, so that importing the package (the CLI does, to mount
its commands) pulls in neither pydantic nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.evals.forcing import (
        Backend,
        Completion,
        ForcingConfig,
        Generation,
        Request,
        Sampling,
        budget_force,
        chat_prompt,
    )
    from probes.evals.inspect_log import import_inspect
    from probes.evals.lm_eval import import_lm_eval
    from probes.evals.runner import EvalSpec, prepare, run_eval
    from probes.evals.show import summarize

_WHERE = {
    "Backend": "forcing",
    "Completion": "forcing",
    "ForcingConfig": "forcing",
    "Generation": "forcing",
    "Request": "forcing",
    "Sampling": "forcing",
    "budget_force": "forcing",
    "chat_prompt": "forcing",
    "EvalSpec": "runner",
    "prepare": "runner",
    "run_eval": "runner",
    "summarize": "show",
    "import_lm_eval": "lm_eval",
    "import_inspect": "inspect_log",
}

__all__ = [
    "Backend",
    "Completion",
    "EvalSpec",
    "ForcingConfig",
    "Generation",
    "Request",
    "Sampling",
    "budget_force",
    "chat_prompt",
    "import_inspect",
    "import_lm_eval",
    "prepare",
    "run_eval",
    "summarize",
]


__getattr__ = lazy_exports(__name__, _WHERE)
