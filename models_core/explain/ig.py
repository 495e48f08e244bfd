"""Integrated Gradients of one class's probability with respect to the token embeddings.

- `integrated_gradients`: captum's `IntegratedGradients` on the token embeddings (`model.embed`), baseline = the
  same ids with [MASK] at every non-special position, i.e. the fully masked text SHAP uses as its base;
  uniform Gauss-Legendre steps, doubled while the completeness gap exceeds `delta_max`. The reference.
- `integrated_gradients_panels` (what explanations use): the same integral by composite Gauss-Legendre panels
  placed by a forward probe of the path and split where their own completeness gap is (each panel's integral
  must equal f's change across it), so steep stretches get the steps; same output and `delta`.
Completeness: attributions sum to f(x) - f(baseline) up to `delta`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from models_core.errors import InputError
from models_core.explain.methods import Attribution
from models_core.explain.text import TokenizedText

# Integrated Gradients by panels (`integrated_gradients_panels`): forward probes of the path, first panels, and
# Gauss-Legendre nodes per panel.
IG_PROBES = 16
IG_PANELS = 8
IG_PANEL_NODES = 3


# ---- Integrated Gradients --------------------------------------------------------------------------

def integrated_gradients(model: torch.nn.Module, tokenizer, tokenized: TokenizedText, target: int,
                         mask_token: str, n_steps: int = 64, internal_batch_size: int = 64,
                         delta_max: float | None = None, max_steps: int | None = None) -> Attribution:
    """IG of softmax(target) w.r.t. the token embeddings, summed over the embedding dimension.

    With `delta_max` and `max_steps`: steps chosen by the completeness gap, starting at `n_steps` and
    doubling while the gap exceeds `delta_max`, up to `max_steps` (`info["steps_tried"]`: each tried)."""
    tried = []
    while True:
        result = _integrated_gradients(model, tokenizer, tokenized, target, mask_token, n_steps, internal_batch_size)
        tried.append(n_steps)
        if delta_max is None or max_steps is None or result.info["delta"] <= delta_max or 2 * n_steps > max_steps:
            result.info["steps_tried"] = tried
            return result
        n_steps *= 2


def _ig_setup(model: torch.nn.Module, tokenizer, tokenized: TokenizedText, mask_token: str):
    enc = tokenizer.encode(tokenized.text, add_special_tokens=True)
    special = torch.tensor(enc.special_tokens_mask, dtype=torch.bool)
    if int((~special).sum()) != len(tokenized):
        raise InputError("re-tokenizing the explained text changed its tokens")
    ids = torch.tensor([enc.ids], dtype=torch.long)
    types = torch.tensor([enc.type_ids], dtype=torch.long)
    baseline_ids = ids.clone()
    baseline_ids[0, ~special] = tokenizer.token_to_id(mask_token)
    return special, ids, types, baseline_ids


def _ig_path(model: torch.nn.Module, ids: torch.Tensor, types: torch.Tensor, baseline_ids: torch.Tensor,
             target: int):
    """The path's ends (token embeddings of the text and of its masked baseline) and the target probability
    as a function of embeddings (batched)."""
    attention = torch.ones_like(ids)
    with torch.no_grad():
        inputs = model.embed(ids, types)
        baseline = model.embed(baseline_ids, types)

    def prob(embeds: torch.Tensor) -> torch.Tensor:
        logits = model.forward_from_embeddings(embeds, attention.expand(embeds.shape[0], -1))
        return torch.softmax(logits, dim=-1)[:, target]

    return inputs, baseline, prob


class _GradientsOff:
    """model.eval() with the weights' requires_grad off (IG needs gradients with respect to the embeddings
    only: the weights' own gradients, a third of the backward products, are never used); restored after."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.was_training = self.model.training
        self.model.eval()
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        for p in self.trainable:
            p.requires_grad_(False)

    def __exit__(self, *exc) -> None:
        self.model.train(self.was_training)
        for p in self.trainable:
            p.requires_grad_(True)


def integrated_gradients_panels(model: torch.nn.Module, tokenizer, tokenized: TokenizedText, target: int,
                                mask_token: str, delta_max: float = 1e-3, max_steps: int = 256,
                                probes: int = IG_PROBES, panels: int = IG_PANELS, nodes: int = IG_PANEL_NODES,
                                batch_size: int = 64) -> Attribution:
    """IG of softmax(target) w.r.t. the token embeddings (same integral, baseline and output as
    `integrated_gradients`) by composite Gauss-Legendre quadrature on panels of the path, refined where the
    completeness gap is.

    The path x(a) = x' + a (x - x') is first probed forward only at `probes` + 1 evenly spaced points (no
    gradients: ~a third of a gradient step each). The probe points split the path into `panels` panels of
    about equal share of |f| change (mixed half and half with equal length, so a flat stretch still gets
    one); each gets `nodes` Gauss-Legendre nodes. The integral of the gradient over a panel must equal the
    change of f across it, which the probe measured, so every panel's own completeness gap is known: while
    the text's gap (sum of attributions minus f(x) - f(x'), captum's delta) exceeds `delta_max`, the panels
    whose gap is above their share are split in two (one more forward point at the split) with `nodes` nodes
    per half. A model whose probability turns steeply over a short stretch of the path gets its gradient
    steps there instead of everywhere; a smooth one stops at panels x nodes steps. At most `max_steps`
    gradient steps are spent; `info["steps_tried"]` lists each round's new gradient steps (their sum is
    the cost), `info["n_steps"]` the final rule's nodes, `info["path_evaluations"]` the forward points.
    """
    special, ids, types, baseline_ids = _ig_setup(model, tokenizer, tokenized, mask_token)
    gl_nodes, gl_weights = np.polynomial.legendre.leggauss(nodes)
    with _GradientsOff(model):
        inputs, baseline, prob = _ig_path(model, ids, types, baseline_ids, target)
        direction = inputs - baseline

        def forward(alphas: Sequence[float]) -> np.ndarray:
            a = torch.tensor(alphas, dtype=inputs.dtype, device=inputs.device).view(-1, 1, 1)
            with torch.no_grad():
                return prob(baseline + a * direction).double().cpu().numpy()

        def panel_sums(spans: list[tuple[float, float]]) -> list[torch.Tensor]:
            """Per panel, the quadrature of the gradient times the direction: (T,) per-token sums, float64."""
            alphas, weights = [], []
            for lo, hi in spans:
                alphas += list(lo + (hi - lo) * (gl_nodes + 1) / 2)
                weights += list((hi - lo) / 2 * gl_weights)
            a = torch.tensor(alphas, dtype=inputs.dtype, device=inputs.device).view(-1, 1, 1)
            grads = []
            for start in range(0, len(alphas), batch_size):
                point = (baseline + a[start:start + batch_size] * direction).requires_grad_(True)
                grads.append(torch.autograd.grad(prob(point).sum(), point)[0])
            weighted = torch.cat(grads).double().cpu() * torch.tensor(weights, dtype=torch.float64).view(-1, 1, 1)
            per_token = (weighted * direction.double().cpu()).sum(dim=-1)  # (steps, T)
            return [per_token[k * nodes:(k + 1) * nodes].sum(dim=0) for k in range(len(spans))]

        grid = np.linspace(0.0, 1.0, probes + 1)
        values = forward(list(grid))
        f0, fx = float(values[0]), float(values[-1])
        change = np.abs(np.diff(values))
        share = 0.5 * change / max(float(change.sum()), 1e-12) + 0.5 / probes
        cuts = np.concatenate([[0.0], np.cumsum(share)])
        bounds = sorted({0, probes, *(int(np.argmin(np.abs(cuts - k / panels))) for k in range(1, panels))})
        known = dict(zip(grid, values))
        spans = [(float(grid[a]), float(grid[b])) for a, b in zip(bounds, bounds[1:])]
        sums = dict(zip(spans, panel_sums(spans)))
        tried = [len(spans) * nodes]
        path_points = probes + 1
        while True:
            gaps = {s: float(sums[s].sum()) - (known[s[1]] - known[s[0]]) for s in spans}
            delta = sum(gaps.values())
            split = [s for s in spans if abs(gaps[s]) > delta_max / len(spans)]
            if abs(delta) <= delta_max or not split or sum(tried) + 2 * nodes * len(split) > max_steps:
                break
            halves = []
            middles = [(lo + hi) / 2 for lo, hi in split]
            for m, v in zip(middles, forward(middles)):
                known[m] = float(v)
            path_points += len(middles)
            for lo, hi in split:
                halves += [(lo, (lo + hi) / 2), ((lo + hi) / 2, hi)]
            sums.update(zip(halves, panel_sums(halves)))
            tried.append(len(halves) * nodes)
            spans = sorted((set(spans) - set(split)) | set(halves))
        total = torch.stack([sums[s] for s in spans]).sum(dim=0)
    per_token = total.numpy()
    return Attribution(values=per_token[~special.numpy()], base_value=f0, value=fx,
                       info={"n_steps": len(spans) * nodes, "delta": abs(float(delta)), "steps_tried": tried,
                             "quadrature": "gauss-legendre panels", "panels": len(spans), "nodes_per_panel": nodes,
                             "path_evaluations": path_points,
                             "baseline": f"{mask_token} at every non-special position"})


def _integrated_gradients(model: torch.nn.Module, tokenizer, tokenized: TokenizedText, target: int,
                          mask_token: str, n_steps: int, internal_batch_size: int) -> Attribution:
    from captum.attr import IntegratedGradients

    special, ids, types, baseline_ids = _ig_setup(model, tokenizer, tokenized, mask_token)
    with _GradientsOff(model):
        inputs, baseline, prob = _ig_path(model, ids, types, baseline_ids, target)

        ig = IntegratedGradients(prob)
        attributions, delta = ig.attribute(inputs, baselines=baseline, n_steps=n_steps,
                                           method="gausslegendre", internal_batch_size=internal_batch_size,
                                           return_convergence_delta=True)
        with torch.no_grad():
            fx = float(prob(inputs)[0])
            f0 = float(prob(baseline)[0])
    per_token = attributions.sum(dim=-1)[0].detach().double().numpy()
    return Attribution(values=per_token[~special.numpy()], base_value=f0, value=fx,
                       info={"n_steps": n_steps, "delta": float(delta.abs().max()),
                             "baseline": f"{mask_token} at every non-special position"})


