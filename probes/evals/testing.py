"""A scripted backend that emits given token streams: for tests of budget forcing's control flow,
and for anyone testing code that runs evals. It never loads a model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from probes.evals.forcing import Completion, Request, Sampling


class ScriptedBackend:
    """Emits, for each sequence key, the tokens of its script in order, across calls.

    Each call samples from where the previous call for the same key stopped: tokens up to and
    including the first stop token of the request, or ``max_new_tokens`` of them. A script that
    runs out repeats its ``filler`` token. Every request is kept in ``requests``.
    """

    name = "scripted"

    def __init__(self, scripts: Mapping[str, Sequence[int]], filler: int = 0) -> None:
        self.scripts = {key: list(tokens) for key, tokens in scripts.items()}
        self.filler = filler
        self.cursor = dict.fromkeys(self.scripts, 0)
        self.requests: list[Request] = []
        self.closed = False

    def _next(self, key: str) -> int:
        script = self.scripts[key]
        at = self.cursor[key]
        self.cursor[key] = at + 1
        return script[at] if at < len(script) else self.filler

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[Completion]:
        out = []
        for req in requests:
            self.requests.append(req)
            sampled: list[int] = []
            stop = None
            while len(sampled) < req.max_new_tokens:
                token = self._next(req.key)
                if token in req.stop_token_ids:
                    stop = token
                    break
                sampled.append(token)
            out.append(Completion(tuple(sampled), stop, len(sampled) + (stop is not None)))
        return out

    def close(self) -> None:
        self.closed = True


def make_tiny_qwen(directory: Path, *, seed: int = 0, head_dim: int = 16) -> Path:
    """Save a tiny random-init ``Qwen2ForCausalLM`` with the real Qwen2.5 tokenizer.

    Hidden size 64, 2 layers, ``64 / head_dim`` attention heads (2 KV heads where there are 4,
    else 1), vocabulary of the Qwen2.5 tokenizer (151,665). ``head_dim=32`` suits vLLM's CPU
    attention, which supports no smaller head. ``--model DIRECTORY`` loads it like any local
    model. Its answers are noise: it exercises the records, token counts and metering, not
    accuracy.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from probes.tokens.tokenizer import load_tokenizer

    tokenizer = load_tokenizer("qwen2.5")
    heads = 64 // head_dim
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=2 if heads == 4 else 1,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory
