"""The OpenAI backend against a small completions server started here on 127.0.0.1: raw text
prompts, stop token ids, the server's token counts, and the same budget-forcing control flow."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ledger.cli import ErrorHandlingGroup
from ledger.store import Ledger
from probes.evals.cli import register
from probes.evals.forcing import HfVocabulary
from probes.tokens.tokenizer import load_tokenizer


class _Server:
    """Speaks ``POST /v1/completions``; each question's model is a script of token ids."""

    def __init__(self, vocab: HfVocabulary, scripts: dict[str, list[int]]) -> None:
        self.vocab = vocab
        self.scripts = scripts
        self.cursor = dict.fromkeys(scripts, 0)
        self.bodies: list[dict[str, Any]] = []

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        key = next(k for k in self.scripts if f"Question {k}?" in body["prompt"])
        stops = set(body.get("stop_token_ids") or [])
        sampled: list[int] = []
        reason = None
        while len(sampled) < body["max_tokens"]:
            at = self.cursor[key]
            self.cursor[key] += 1
            token = self.scripts[key][at] if at < len(self.scripts[key]) else self.filler
            sampled.append(token)
            if token in stops:
                reason = token
                break
        text_ids = sampled[:-1] if reason is not None else sampled
        return {
            "id": "cmpl-test",
            "object": "text_completion",
            "model": body["model"],
            "choices": [{
                "index": 0,
                "text": self.vocab.decode(text_ids),
                "finish_reason": "stop" if reason is not None else "length",
                "stop_reason": reason,
            }],
            "usage": {
                "prompt_tokens": len(self.vocab.encode(body["prompt"])),
                "completion_tokens": len(sampled),
            },
        }  # fmt: skip

    @property
    def filler(self) -> int:
        return self.vocab.encode(" x")[0]


@pytest.fixture(scope="module")
def vocab() -> HfVocabulary:
    return HfVocabulary(load_tokenizer("qwen2.5"))


@pytest.fixture
def server(vocab: HfVocabulary) -> Iterator[tuple[str, _Server]]:
    a, im_start, im_end = (vocab.encode(t)[0] for t in (" a", "<|im_start|>", "<|im_end|>"))
    boxed = vocab.encode(" \\boxed{7}")
    fake = _Server(vocab, {
        "1": [a, a, im_end, a, im_start, *boxed, im_end],  # one Wait, then a natural end
        "2": [a] * 40,  # never ends: forced, and the answer hits its cap
    })  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/completions":
                self.send_error(404)
                return
            length = int(self.headers["Content-Length"])
            reply = json.dumps(fake.complete(json.loads(self.rfile.read(length)))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_budget_forcing_over_a_completions_server(
    server: tuple[str, _Server], runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    url, fake = server
    data = tmp_path / "two.jsonl"
    data.write_text(
        '{"id": "1", "problem": "Question 1?", "answer": "7"}\n'
        '{"id": "2", "problem": "Question 2?", "answer": "7"}\n'
    )
    app = typer.Typer(cls=ErrorHandlingGroup)
    register(app, typer.Typer())
    done = runner.invoke(app, [
        "eval", "run", "--backend", "openai", "--model", "served-model", "--base-url", url,
        "--tokenizer", "qwen2.5", "--data", str(data), "--subject", "served", "--num-wait", "1",
        "--max-thinking-tokens", "12", "--max-answer-tokens", "6", "--ledger", sqlite_url,
    ])  # fmt: skip
    assert done.exit_code == 0, done.output

    with Ledger(sqlite_url) as store:
        [run] = store.runs("served")
        one, two = store.eval_items(run.id)
    # Item 1: " a a" + end (3 sampled), Wait, " a" + end (2), then the answer " \boxed{7}" + end.
    assert (one.thinking_tokens, one.num_waits, one.forced_end) == (3 + 1 + 2, 1, False)
    assert one.extracted_answer == "7" and one.correct is True
    assert one.answer_tokens == len(fake.vocab.encode(" \\boxed{7}")) + 1
    assert one.trace is not None and one.trace.endswith(
        "<|im_start|>think a aWait a<|im_start|>answer \\boxed{7}"
    )
    # Item 2 never ends: 12 thinking tokens, forced, 6 answer tokens (the cap).
    assert (two.thinking_tokens, two.forced_end, two.answer_tokens) == (12, True, 6)
    assert two.correct is False
    # Requests: raw text prompts with the stop ids and explicit, neutral sampling.
    first = fake.bodies[0]
    assert first["model"] == "served-model" and first["temperature"] == 0.0
    opened = "Question 1?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think"
    assert first["prompt"].endswith(opened)
    assert set(first["stop_token_ids"]) >= {151644, 151645, 151643}
    assert first["max_tokens"] == 12
    wait_round = next(b for b in fake.bodies if b["prompt"].endswith("Wait"))
    assert wait_round["max_tokens"] == 12 - 4
    assert any(b["prompt"].endswith("\n<|im_start|>answer\nFinal Answer:") for b in fake.bodies)


def test_an_unreachable_server_fails_the_run_without_a_traceback(
    runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    data = tmp_path / "one.jsonl"
    data.write_text('{"id": "1", "problem": "Question 1?", "answer": "7"}\n')
    app = typer.Typer(cls=ErrorHandlingGroup)
    register(app, typer.Typer())
    done = runner.invoke(app, [
        "eval", "run", "--backend", "openai", "--model", "m", "--base-url",
        "http://127.0.0.1:9/v1", "--tokenizer", "qwen2.5", "--data", str(data),
        "--subject", "served", "--ledger", sqlite_url,
    ])  # fmt: skip
    assert done.exit_code == 2
    assert done.stderr.startswith("receipts: error: http://127.0.0.1:9/v1/completions")
    with Ledger(sqlite_url) as store:
        [run] = store.runs("served")
    assert run.status.value == "failed"
