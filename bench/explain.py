"""Explanations: this project's SHAP and LIME against the shap and lime libraries, in one run.

    .venv/bin/python bench/explain.py [--texts 6] [--long 2] [--seed 0]

A frozen-MiniLM classifier is trained on `hiring_rows()` by the core's `train_classifier` (seeded).
Texts: `--texts` held-out 10-word windows of the hiring summaries (at most 11 model tokens, so exact
Shapley values are affordable), plus `--long` whole summaries for speed only.

SHAP: `shap.Explainer(f, shap.maskers.Text(tokenizer))` as documented (plain predict function, Partition
explainer, default max_evals) against `explain_methods.shap_values` (all texts' masked strings scored
in batched, deduplicated calls). Fidelity: Pearson correlation with exact Shapley values of the same
token-masking game, and overlap of the top-5 tokens by |value|.
LIME: `LimeTextExplainer()` with its defaults (5,000 samples, words deleted) against
`explain_methods.lime_tokens` with the same 5,000 samples and seed (lime's own draws, kernel and Ridge
fit; each distinct perturbation built and scored once), timed text by text, interleaved with the library;
`lime_many` over all texts in one call is timed too. Fidelity: against exact Shapley values of LIME's own
game (bag of words, deleted words), per word.

Before any timing, one text goes untimed through shap, lime and ours (imports, shap's numba
compilation, first torch calls). Time is wall-clock per text (CPU seconds are printed too); the last line is
`RESULT explain shap_ratio=<x> lime_ratio=<y> shap_pearson=<z> evals_per_text=<n>` (evals_per_text: model
evaluations plus IG gradient steps per text of `explain_sample`, the audit's path, stability re-runs included;
the path before issue 19 is counted on the same texts and printed beside it; ratios: library time / ours, ours
explaining the texts as the product does, all in one call, the library one text at a time as documented;
the LIME ratio with ours called text by text is printed too; shap_pearson: our SHAP's mean Pearson with
exact values).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_core.data.synthetic import hiring_rows  # noqa: E402
from models_core.explain.global_view import select_sample  # noqa: E402
from models_core.explain.methods import ShapTrees, lime_many, lime_tokens, shap_library, shap_values  # noqa: E402
from models_core.explain.sample import SHAP_MAX_EVALS, explain_sample  # noqa: E402
from models_core.explain.shapley import all_coalitions, exact_shapley_tokens, shapley_from_table  # noqa: E402
from models_core.explain.stability import top_k_overlap  # noqa: E402
from models_core.explain.text import (CachedPredictor, ShapTokenizerAdapter, plain_tokenizer,  # noqa: E402
                                      tokenize_for_explanation)
from models_core.training.config import TrainConfig  # noqa: E402
from models_core.training.trainer import train_classifier  # noqa: E402

LIME_SAMPLES = 5000  # LimeTextExplainer.explain_instance's default, on both sides


class Clock:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> "Clock":
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def ten_word_texts(rows: list[dict], tokenizer, k: int, max_tokens: int = 11) -> list[str]:
    out = []
    for row in rows:
        words = row["text"].split()
        # the window that holds the pronoun sentence or the club, where the gendered tokens are
        for start in (len(words) - 10, max(0, len(words) // 2 - 5), 0):
            text = " ".join(words[start:start + 10])
            if len(tokenize_for_explanation(tokenizer, text, None)) <= max_tokens:
                out.append(text)
                break
        if len(out) == k:
            return out
    return out


def lime_word_exact(predict: CachedPredictor, text: str, target: int) -> tuple[list[str], np.ndarray]:
    """Exact Shapley values of LIME's game: features = distinct words, absent words deleted."""
    from lime.lime_text import IndexedString

    indexed = IndexedString(text, bow=True)
    d = indexed.num_words()
    coalitions = all_coalitions(d)
    texts = [indexed.inverse_removing(np.flatnonzero(~row)) for row in coalitions]
    table = predict(texts)[:, target]
    return [indexed.word(i) for i in range(d)], shapley_from_table(table)


def lime_library_words(predict, text: str, target: int, seed: int) -> dict[str, float]:
    from lime.lime_text import LimeTextExplainer

    exp = LimeTextExplainer(random_state=seed).explain_instance(text, predict, labels=(target,),
                                                                num_features=10 ** 6)
    return {exp.domain_mapper.indexed_string.word(i): w for i, w in exp.local_exp[target]}


def token_values_to_words(tokenized, values: np.ndarray, words: list[str]) -> np.ndarray:
    """Sum token values back onto LIME's words (inverse of lime_tokens' spreading)."""
    import re

    out = np.zeros(len(words))
    for j, word in enumerate(words):
        spans = [m.span() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", tokenized.text)]
        for i, (s, e) in enumerate(tokenized.offsets):
            if any(a <= s and e <= b for a, b in spans):
                out[j] += values[i]
    return out


def warm_up(bundle, adapter, tokenized, target: int, seed: int) -> None:
    """One untimed text through each side, so that imports, numba compilation (shap, ~11 s) and first
    torch calls are not inside either side's measurement."""
    with Clock() as clock:
        shap_library(bundle.predict_proba, adapter, tokenized, target, seed=seed)
        lime_library_words(bundle.predict_proba, tokenized.text, target, seed)
        shap_values(CachedPredictor(bundle.predict_proba), ShapTrees(adapter), [(tokenized, target)],
                    max_evals=SHAP_MAX_EVALS)
        lime_tokens(CachedPredictor(bundle.predict_proba), tokenized, target, LIME_SAMPLES, seed)
    print(f"warm-up (untimed): one text through shap, lime and ours, {clock.wall:.1f}s", flush=True)


def global_demo(bundle, rows: list[dict], n: int, seed: int) -> None:
    texts = [r["text"] for r in rows]
    truth = np.array([int(r["hired"] == "yes") for r in rows])
    predicted = bundle.predict_proba(texts).argmax(axis=1)
    genders = [r["gender"] for r in rows]
    chosen = select_sample({"gender": genders}, list(predicted == truth), n=n, seed=seed)
    with Clock() as clock:
        report = explain_sample(bundle, [texts[i] for i in chosen], [1] * len(chosen),
                                {"gender": [genders[i] for i in chosen]}, methods=("shap",), seed=seed)
    view = report["global"]
    print(f"global view: {len(chosen)} held-out rows (stratified by gender x correct), SHAP of P(hired), "
          f"{clock.wall:.0f}s, {report['compute']['model_evaluations']} model evaluations")
    print("  top tokens by mean |SHAP|: " + ", ".join(
        f"{r['token']} {r['mean_abs']:.4f}" for r in view["top_tokens"][:10]))
    print("  gender proxies (largest gap in mean |SHAP| between groups): " + ", ".join(
        f"{r['token']} {r['gap']:.4f} (higher in {r['higher_in']}, mean SHAP "
        f"{r['mean_by_group'][r['higher_in']]:+.4f})" for r in view["proxies"]["gender"][:8]), flush=True)


def evaluations_per_text(bundle, tokenized: list, target: int, seed: int) -> tuple[float, float, dict]:
    """Model evaluations per explained text (strings scored + IG gradient steps), SHAP + LIME + IG, before and
    after issue 19, on the same texts, each with a fresh cache. Before: the path as of main 2f16b25 (token
    players; Kernel edge design or Owen at 500; LIME 1,000 samples x two seeds; IG 64 steps), rebuilt from the
    same functions. After: `explain_sample` as an audit calls it (words, paired Kernel SHAP, LIME from 250
    samples while its seeds' top-k disagree, IG steps by its gap), *including* the stability re-runs on an
    edited copy of each text, which the old path did not do."""
    from models_core.explain.kernel import edge_budget

    adapter = ShapTokenizerAdapter(bundle.tokenizer)
    before = CachedPredictor(bundle.predict_proba)
    before([t.text for t in tokenized])
    for t in tokenized:
        algorithm = "kernel" if edge_budget(len(t)) <= SHAP_MAX_EVALS else "owen"
        shap_values(before, ShapTrees(adapter), [(t, target)], max_evals=SHAP_MAX_EVALS, algorithm=algorithm,
                    players="tokens")
    items = [(t, target) for t in tokenized]
    lime_many(before, items + items, 1000, [seed] * len(items) + [seed + 1] * len(items))
    old = (before.evaluations + 64 * len(tokenized)) / len(tokenized)
    report = explain_sample(bundle, [t.text for t in tokenized], [target] * len(tokenized), seed=seed)
    fidelity = {"ig_delta_max": max(r["method_info"]["ig"]["delta"] for r in report["texts"]),
                "lime_samples": [r["method_info"]["lime"]["num_samples"] for r in report["texts"]],
                "shap_algorithms": sorted({r["method_info"]["shap"]["algorithm"] for r in report["texts"]}),
                "model_evaluations": report["compute"]["model_evaluations"],
                "gradient_steps": report["compute"]["gradient_steps"], "wall_s": report["compute"]["wall_s"],
                "report": report}
    return old, report["compute"]["evaluations_per_text"], fidelity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=6)
    parser.add_argument("--long", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--global-sample", type=int, default=0,
                        help="also explain a stratified sample of this many held-out rows with explain_sample "
                             "(SHAP) and print the global view; with --texts 0 only that")
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}", flush=True)

    rows = hiring_rows()
    train, held_out = rows[:2400], rows[2400:]
    with Clock() as clock:
        result = train_classifier([r["text"] for r in train], [int(r["hired"] == "yes") for r in train], 2,
                                  TrainConfig(seed=args.seed))
    bundle = result.bundle
    print(f"classifier: frozen MiniLM-L6 + head, val_accuracy={result.metrics['val_accuracy']:.3f} "
          f"(trained in {clock.wall:.0f}s)", flush=True)
    tokenizer = plain_tokenizer(bundle.tokenizer)
    adapter = ShapTokenizerAdapter(bundle.tokenizer)
    target = 1  # P(hired)
    if args.global_sample:
        global_demo(bundle, held_out, args.global_sample, args.seed)
        if args.texts == 0:
            return
    short = ten_word_texts(held_out, tokenizer, args.texts)
    long = [r["text"] for r in held_out[100:100 + args.long]]
    short_tok = [tokenize_for_explanation(tokenizer, t, 128) for t in short]
    long_tok = [tokenize_for_explanation(tokenizer, t, 128) for t in long]
    print(f"{len(short)} ten-word texts of {[len(t) for t in short_tok]} tokens; "
          f"{len(long)} whole texts of {[len(t) for t in long_tok]} tokens", flush=True)

    warm_up(bundle, adapter, short_tok[0], target, args.seed)
    reference = CachedPredictor(bundle.predict_proba)  # exact values only; never timed
    exact = [exact_shapley_tokens(reference, t, target, adapter.mask_token) for t in short_tok]

    # ---- SHAP ----
    def run_shap_library(tokenized):
        clock = Clock()
        values = []
        for t in tokenized:
            with clock:
                values.append(shap_library(bundle.predict_proba, adapter, t, target, seed=args.seed))
        return values, clock

    def run_shap_ours(tokenized):
        with Clock() as clock:
            ours = shap_values(CachedPredictor(bundle.predict_proba), ShapTrees(adapter),
                               [(t, target) for t in tokenized], max_evals=SHAP_MAX_EVALS)
        return ours, clock

    lib_short, lib_short_t = run_shap_library(short_tok)
    our_short, our_short_t = run_shap_ours(short_tok)
    lib_r = [pearson(a.values, e.values) for a, e in zip(lib_short, exact)]
    our_r = [pearson(a.values, e.values) for a, e in zip(our_short, exact)]
    lib_top = [top_k_overlap(a.values, e.values) for a, e in zip(lib_short, exact)]
    our_top = [top_k_overlap(a.values, e.values) for a, e in zip(our_short, exact)]
    n = len(short)
    shap_ratio = lib_short_t.wall / our_short_t.wall
    print(f"SHAP 10-word  shap.Explainer: {lib_short_t.wall / n:.3f}s/text (cpu {lib_short_t.cpu / n:.3f}s), "
          f"evals/text {np.mean([a.info['evaluations'] for a in lib_short]):.0f}, "
          f"pearson vs exact mean {np.mean(lib_r):.4f} min {np.min(lib_r):.4f}, top-5 {np.mean(lib_top):.3f}")
    print(f"SHAP 10-word  this project:   {our_short_t.wall / n:.3f}s/text (cpu {our_short_t.cpu / n:.3f}s), "
          f"evals/text {np.mean([a.info['evaluations'] for a in our_short]):.0f} "
          f"({sorted({a.info['algorithm'] for a in our_short})}), "
          f"pearson vs exact mean {np.mean(our_r):.4f} min {np.min(our_r):.4f}, top-5 {np.mean(our_top):.3f}")
    print(f"SHAP 10-word  speed ratio {shap_ratio:.2f}x", flush=True)
    if long:
        lib_long, lib_long_t = run_shap_library(long_tok)
        our_long, our_long_t = run_shap_ours(long_tok)
        agree = [pearson(a.values, b.values) for a, b in zip(our_long, lib_long)]
        top = [top_k_overlap(a.values, b.values) for a, b in zip(our_long, lib_long)]
        print(f"SHAP whole    shap.Explainer: {lib_long_t.wall / len(long):.3f}s/text, this project: "
              f"{our_long_t.wall / len(long):.3f}s/text (ratio {lib_long_t.wall / our_long_t.wall:.2f}x, "
              f"{sorted({a.info['algorithm'] for a in our_long})}); no exact reference: agreement with "
              f"shap pearson {np.mean(agree):.4f}, top-5 {np.mean(top):.3f}", flush=True)

    # ---- LIME ----
    word_exact = [lime_word_exact(reference, t.text, target) for t in short_tok]
    # interleaved text by text so that load drift on a shared machine hits both sides alike
    lib_clock, our_clock = Clock(), Clock()
    lib_words, our_lime = [], []
    for t in short_tok:
        with lib_clock:
            lib_words.append(lime_library_words(bundle.predict_proba, t.text, target, args.seed))
        with our_clock:
            our_lime.append(lime_tokens(CachedPredictor(bundle.predict_proba), t, target, LIME_SAMPLES, args.seed))
    lib_lr, our_lr, lib_lt, our_lt = [], [], [], []
    for (words, ex), lib, ours, t in zip(word_exact, lib_words, our_lime, short_tok):
        lib_vec = np.array([lib.get(w, 0.0) for w in words])
        our_vec = token_values_to_words(t, ours.values, words)
        lib_lr.append(pearson(lib_vec, ex))
        our_lr.append(pearson(our_vec, ex))
        lib_lt.append(top_k_overlap(lib_vec, ex))
        our_lt.append(top_k_overlap(our_vec, ex))
    lime_ratio_single = lib_clock.wall / our_clock.wall
    print(f"LIME 10-word  LimeTextExplainer (5000 samples): {lib_clock.wall / n:.3f}s/text "
          f"(cpu {lib_clock.cpu / n:.3f}s), pearson vs exact mean {np.mean(lib_lr):.4f} "
          f"min {np.min(lib_lr):.4f}, top-5 {np.mean(lib_lt):.3f}")
    print(f"LIME 10-word  this project ({LIME_SAMPLES} samples, "
          f"{np.mean([o.info['distinct'] for o in our_lime]):.0f} distinct strings/text): "
          f"{our_clock.wall / n:.3f}s/text (cpu {our_clock.cpu / n:.3f}s), pearson vs exact mean "
          f"{np.mean(our_lr):.4f} min {np.min(our_lr):.4f}, top-5 {np.mean(our_lt):.3f}")
    gap = max(float(np.abs(np.array([lib.get(w, 0.0) for w in words]) - token_values_to_words(t, o.values, words)).max())
              for (words, _), lib, o, t in zip(word_exact, lib_words, our_lime, short_tok))
    print(f"LIME 10-word  speed ratio text by text {lime_ratio_single:.2f}x; largest difference from the library's word weights "
          f"{gap:.1e}", flush=True)
    with Clock() as batched:
        lime_many(CachedPredictor(bundle.predict_proba), [(t, target) for t in short_tok], LIME_SAMPLES, args.seed)
    lime_ratio = lib_clock.wall / batched.wall
    print(f"LIME 10-word  this project, all {n} texts in one lime_many call: {batched.wall / n:.3f}s/text "
          f"(cpu {batched.cpu / n:.3f}s), speed ratio {lime_ratio:.2f}x", flush=True)
    if long:
        lib_clock, our_clock = Clock(), Clock()
        for t in long_tok:
            with lib_clock:
                lime_library_words(bundle.predict_proba, t.text, target, args.seed)
            with our_clock:
                lime_tokens(CachedPredictor(bundle.predict_proba), t, target, LIME_SAMPLES, args.seed)
        print(f"LIME whole    LimeTextExplainer: {lib_clock.wall / len(long):.3f}s/text, this project: "
              f"{our_clock.wall / len(long):.3f}s/text (ratio {lib_clock.wall / our_clock.wall:.2f}x)")
    # ---- model evaluations per explained text, the product's whole path (issue 19) ----
    old_evals, new_evals, facts = evaluations_per_text(bundle, short_tok + long_tok, target, args.seed)
    report = facts.pop("report")
    words_r = []
    for record, e, t in zip(report["texts"], exact, short_tok):
        words_r.append(pearson(np.asarray(record["attributions"]["shap"]), e.values))
    print(f"EVALS per text ({len(short_tok)} short + {len(long_tok)} long texts): before {old_evals:.0f} "
          f"(SHAP tokens + LIME 1,000 x 2 seeds + IG 64), after {new_evals:.0f} (explain_sample, stability "
          f"re-runs included); {facts}; SHAP (words) pearson vs exact token Shapley on the short texts "
          f"mean {np.mean(words_r):.4f} min {np.min(words_r):.4f}", flush=True)
    print(f"load_avg={os.getloadavg()[0]:.1f}")
    print(f"RESULT explain shap_ratio={shap_ratio:.2f} lime_ratio={lime_ratio:.2f} "
          f"shap_pearson={np.mean(our_r):.4f} evals_per_text={new_evals:.0f}")


if __name__ == "__main__":
    main()
