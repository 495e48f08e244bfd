"""Text generation: greedy, top-k and top-p (nucleus) sampling, seeded.

Each prompt draws from its own `torch.Generator` seeded with (seed, prompt index), so a prompt's
continuation does not depend on which other prompts share its batch. Prompts of equal token length are
batched together; there is no key/value cache (the models governed here are small, the prompts short).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from models_core.decoder.bundle import DecoderBundle
from models_core.decoder.tokenization import check_texts
from models_core.errors import InputError

STRATEGIES = ("greedy", "top_k", "top_p")
MAX_NEW_TOKENS = 512


@dataclass(frozen=True)
class GenerationConfig:
    strategy: str = "greedy"
    max_new_tokens: int = 40
    top_k: int = 40
    top_p: float = 0.9
    temperature: float = 1.0
    seed: int = 0
    stop_at_eos: bool = True

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InputError(f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}")
        if not 1 <= int(self.max_new_tokens) <= MAX_NEW_TOKENS:
            raise InputError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}")
        if int(self.top_k) < 1:
            raise InputError("top_k must be at least 1")
        if not 0.0 < float(self.top_p) <= 1.0:
            raise InputError("top_p must be in (0, 1]")
        if not 0.0 < float(self.temperature) <= 10.0:
            raise InputError("temperature must be in (0, 10]")

    def to_dict(self) -> dict:
        return {"strategy": self.strategy, "max_new_tokens": int(self.max_new_tokens), "top_k": int(self.top_k),
                "top_p": float(self.top_p), "temperature": float(self.temperature), "seed": int(self.seed),
                "stop_at_eos": bool(self.stop_at_eos)}


def _filtered_logits(logits: torch.Tensor, config: GenerationConfig) -> torch.Tensor:
    # logits: (V,) float32 of one row -> the same with the excluded tokens at -inf
    logits = logits / config.temperature
    if config.strategy == "top_k":
        k = min(int(config.top_k), logits.shape[-1])
        threshold = torch.topk(logits, k).values[-1]
        logits = logits.masked_fill(logits < threshold, float("-inf"))
    elif config.strategy == "top_p":
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # keep the smallest prefix whose mass reaches top_p (the first token is always kept)
        drop = probs.cumsum(-1) - probs >= config.top_p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return logits


def generate_ids(bundle: DecoderBundle, prompts_ids: Sequence[Sequence[int]], config: GenerationConfig,
                 progress: Callable[[dict], None] | None = None) -> list[list[int]]:
    """Continuation token ids (without the prompt, without a final <|endoftext|>) of each prompt."""
    model, eos = bundle.model.eval(), bundle.eos_id
    limit = bundle.model.config.max_position
    outputs: list[list[int]] = [[] for _ in prompts_ids]
    groups: dict[int, list[int]] = {}
    for index, ids in enumerate(prompts_ids):
        if len(ids) >= limit:
            raise InputError(f"prompt #{index} has {len(ids)} tokens; the model reads at most {limit}")
        groups.setdefault(len(ids), []).append(index)
    done_rows = 0
    with torch.inference_mode():
        for length, rows in sorted(groups.items()):
            generators = [torch.Generator().manual_seed(int(config.seed) * 1_000_003 + r) for r in rows]
            current = torch.tensor([list(prompts_ids[r]) for r in rows], dtype=torch.long, device=bundle.device)
            finished = [False] * len(rows)
            steps = min(int(config.max_new_tokens), limit - length)
            for _ in range(steps):
                logits = model(current)[:, -1].float().cpu()  # (B, V); sampling on the CPU generators
                chosen = []
                for i in range(len(rows)):
                    if config.strategy == "greedy":
                        chosen.append(int(torch.argmax(logits[i])))
                    else:
                        probs = torch.softmax(_filtered_logits(logits[i], config), dim=-1)
                        chosen.append(int(torch.multinomial(probs, 1, generator=generators[i])))
                for i, token in enumerate(chosen):
                    if finished[i]:
                        continue
                    if token == eos and config.stop_at_eos:
                        finished[i] = True
                    else:
                        outputs[rows[i]].append(token)
                if all(finished):
                    break
                current = torch.cat([current, torch.tensor(chosen, dtype=torch.long, device=current.device)[:, None]],
                                    dim=1)
            done_rows += len(rows)
            if progress:
                progress({"stage": "generation", "percent": 100.0 * done_rows / len(prompts_ids)})
    return outputs


def generate(bundle: DecoderBundle, prompts: Sequence[str], config: GenerationConfig | None = None,
             progress: Callable[[dict], None] | None = None) -> list[str]:
    """The continuation text of each prompt (the prompt itself is not repeated)."""
    config = config or GenerationConfig()
    prompts = check_texts(prompts)
    ids = [[bundle.eos_id] + p for p in bundle.token_ids(prompts)]
    return [bundle.tokenizer.decode(out) for out in generate_ids(bundle, ids, config, progress)]
