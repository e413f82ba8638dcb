"""Budget forcing's control flow, pinned with a scripted backend and the real Qwen2.5 tokenizer:
where the Waits go, where the forced end happens, and how every token is counted."""

from __future__ import annotations

import pytest

from probes.evals.errors import EvalInputError
from probes.evals.forcing import (
    ForcingConfig,
    Generation,
    HfVocabulary,
    Sampling,
    budget_force,
    chat_prompt,
)
from probes.evals.testing import ScriptedBackend
from probes.tokens.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def vocab() -> HfVocabulary:
    return HfVocabulary(load_tokenizer("qwen2.5"))


def ids(vocab: HfVocabulary, *words: str) -> list[int]:
    """One token per word (each checked to be a single token)."""
    out = []
    for word in words:
        found = vocab.encode(word)
        assert len(found) == 1, word
        out += found
    return out


def force(
    vocab: HfVocabulary, scripts: dict[str, list[int]], config: ForcingConfig
) -> tuple[list[Generation], ScriptedBackend]:
    backend = ScriptedBackend(scripts, filler=ids(vocab, " x")[0])
    prompts = [(key, chat_prompt(f"Question {key}?"), 0) for key in scripts]
    return budget_force(backend, vocab, prompts, config, Sampling()), backend


def test_a_natural_end_without_waits(vocab: HfVocabulary) -> None:
    im_start, im_end = ids(vocab, "<|im_start|>", "<|im_end|>")
    script = [*ids(vocab, " a", " b", " c"), im_start, *ids(vocab, " yes"), im_end]
    [g], backend = force(vocab, {"q": script}, ForcingConfig(100, 50))

    assert g.events == ["think:4", "end", "answer:2"]
    assert (g.thinking_tokens, g.answer_tokens, g.num_waits, g.forced_end) == (4, 2, 0, False)
    assert g.answer_stop == im_end
    prompt = chat_prompt("Question q?") + "<|im_start|>think"
    assert g.prompt_tokens == len(vocab.encode(prompt))
    trace = vocab.decode(g.context() + g.answer_ids)
    assert trace == prompt + " a b c<|im_start|>answer yes"
    # One thinking round and one answer round, each with its own cap and stops.
    thinking, answer = backend.requests
    assert (thinking.phase, thinking.max_new_tokens) == ("thinking", 100)
    assert (answer.phase, answer.max_new_tokens) == ("answer", 50)
    assert im_start in thinking.stop_token_ids and im_start not in answer.stop_token_ids


def test_waits_replace_the_first_n_ends_then_the_model_ends(vocab: HfVocabulary) -> None:
    im_start, im_end, eot = ids(vocab, "<|im_start|>", "<|im_end|>", "<|endoftext|>")
    a, b, c, d = ids(vocab, " a", " b", " c", " d")
    # The model tries to end three times, with each of the three end tokens.
    script = [a, a, im_start, b, im_end, c, c, c, eot, d, im_end]
    [g], backend = force(vocab, {"q": script}, ForcingConfig(100, 50, num_wait=2))

    assert g.events == ["think:3", "wait", "think:2", "wait", "think:4", "end", "answer:2"]
    assert g.num_waits == 2 and not g.forced_end
    # Sampled: 3 + 2 + 4 (every end token included), plus two one-token Waits.
    assert g.thinking_tokens == 3 + 2 + 4 + 2
    thinking_text = vocab.decode(g.thinking_ids)
    assert thinking_text == " a aWait bWait c c c"
    # The trace's thinking segment lacks only the three end tokens that were sampled.
    assert len(g.thinking_ids) == g.thinking_tokens - 3
    # One budget: each round may sample only what is left of it.
    assert [r.max_new_tokens for r in backend.requests] == [100, 96, 93, 50]
    # Each round continues from the exact context: the previous one plus Wait.
    second = backend.requests[1]
    assert list(second.token_ids[-3:]) == [a, a, *vocab.encode("Wait")]
    assert vocab.decode(g.context()).endswith("Wait c c c<|im_start|>answer")


def test_the_budget_spent_mid_thinking_forces_the_end(vocab: HfVocabulary) -> None:
    [g], _ = force(vocab, {"q": ids(vocab, " a") * 20}, ForcingConfig(8, 5, num_wait=3))

    assert g.events == ["think:8", "forced", "answer:5"]
    assert (g.thinking_tokens, g.num_waits, g.forced_end) == (8, 0, True)
    assert vocab.decode(g.closing_ids) == "\n<|im_start|>answer\nFinal Answer:"
    assert g.answer_tokens == 5 and g.answer_stop is None  # the answer cap, reached
    assert vocab.decode(g.context()).endswith(" a a\n<|im_start|>answer\nFinal Answer:")


def test_no_newline_is_added_after_a_thinking_that_ends_with_one(vocab: HfVocabulary) -> None:
    newline = vocab.encode("\n")
    [g], _ = force(vocab, {"q": ids(vocab, " a") * 3 + newline * 5}, ForcingConfig(4, 5))
    assert g.forced_end
    assert vocab.decode(g.closing_ids) == "<|im_start|>answer\nFinal Answer:"


def test_one_budget_across_wait_rounds(vocab: HfVocabulary) -> None:
    im_start = vocab.token_id("<|im_start|>")
    assert im_start is not None
    script = ids(vocab, " a", " b", " c") + [im_start] + ids(vocab, " d") * 20
    [g], backend = force(vocab, {"q": script}, ForcingConfig(10, 5, num_wait=5))

    # Round 1: 3 tokens and an end (4); Wait (1); round 2 may sample 10 - 5 = 5, no more.
    assert [r.max_new_tokens for r in backend.requests[:2]] == [10, 5]
    assert g.events == ["think:4", "wait", "think:5", "forced", "answer:5"]
    assert g.thinking_tokens == 10 and g.num_waits == 1 and g.forced_end


def test_a_wait_that_does_not_fit_ends_thinking_by_force(vocab: HfVocabulary) -> None:
    im_start = vocab.token_id("<|im_start|>")
    assert im_start is not None
    script = [*ids(vocab, " a", " b", " c"), im_start]
    [g], _ = force(vocab, {"q": script}, ForcingConfig(5, 5, num_wait=1))

    # 4 sampled, 1 left: a Wait (1 token) would leave nothing to think with.
    assert g.events == ["think:4", "forced", "answer:5"]
    assert g.thinking_tokens == 4 and g.num_waits == 0 and g.forced_end


def test_waits_used_up_leave_the_models_end_standing(vocab: HfVocabulary) -> None:
    im_end = vocab.token_id("<|im_end|>")
    assert im_end is not None
    a = ids(vocab, " a")[0]
    script = [im_end, a, im_end, a, a]
    [g], _ = force(vocab, {"q": script}, ForcingConfig(50, 2, num_wait=1))

    assert g.events == ["think:1", "wait", "think:2", "end", "answer:2"]
    assert vocab.decode(g.thinking_ids) == "Wait a"
    assert not g.forced_end


def test_a_batch_sends_only_sequences_still_thinking(vocab: HfVocabulary) -> None:
    im_start = vocab.token_id("<|im_start|>")
    assert im_start is not None
    a = ids(vocab, " a")[0]
    scripts = {"runs-on": [a] * 10, "waits": [a, im_start, a, im_start]}
    gens, backend = force(vocab, scripts, ForcingConfig(6, 1, num_wait=1))

    assert [(r.key, r.phase) for r in backend.requests] == [
        ("runs-on", "thinking"),
        ("waits", "thinking"),
        ("waits", "thinking"),
        ("runs-on", "answer"),
        ("waits", "answer"),
    ]
    runs_on, waits = gens
    assert runs_on.events == ["think:6", "forced", "answer:1"]
    assert waits.events == ["think:2", "wait", "think:2", "end", "answer:1"]
    assert runs_on.latency_s == waits.latency_s  # one batch, one wall time


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_thinking_tokens": 0, "max_answer_tokens": 5}, "--max-thinking-tokens"),
        ({"max_thinking_tokens": -3, "max_answer_tokens": 5}, "--max-thinking-tokens"),
        ({"max_thinking_tokens": 5, "max_answer_tokens": 0}, "--max-answer-tokens"),
        ({"max_thinking_tokens": 5, "max_answer_tokens": 5, "num_wait": -1}, "--num-wait"),
        (
            {"max_thinking_tokens": 5, "max_answer_tokens": 5, "num_wait": 1, "wait_string": ""},
            "--wait-string",
        ),
    ],
)
def test_budgets_of_zero_or_below_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(EvalInputError, match=message):
        ForcingConfig(**kwargs)  # type: ignore[arg-type]
