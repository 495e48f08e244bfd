"""Robustness: the cost of the suites on 1,000 texts, and the planted defects they catch, in one run.

    .venv/bin/python bench/robustness.py [--texts 1000] [--train 300] [--test 120] [--seed 0]

Three frozen-MiniLM classifiers are trained by the core's `train_classifier` (seeded) on the planted data
sets of `models_core.robustness.planted`: a meaningless-token shortcut (a final "!" decides the label), a
name-origin bias (every positive with an Arabic or West African name turned negative), and clean data.
Each is tested on `--test` held-out texts of its own kind with every suite (no attack, 500 replicates):
a defect counts as caught when the suite it plants into (punctuation; name swaps) has a flip-rate interval
above zero and reaching above 0.05; the clean model passes when no suite's upper bound exceeds 0.05.

Cost: `robustness_report` on `--texts` held-out clean texts (the model's probabilities of the originals
given, as the audit gives them), every suite, two directional expectations, the embedding-candidate attack
on 25 texts, 1,000 replicates; wall-clock, model evaluations per second alongside. Last line:
`RESULT robustness texts_per_s=<x> planted_caught=<found>/<planted> clean_passed=<bool> evals_per_s=<y>`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_core.robustness.neighbours import EncoderSpace  # noqa: E402
from models_core.robustness.planted import clean_rows, name_bias_rows, shortcut_rows  # noqa: E402
from models_core.robustness.report import robustness_report  # noqa: E402
from models_core.training.config import TrainConfig  # noqa: E402
from models_core.training.trainer import train_classifier  # noqa: E402

LIMIT = 0.05
EXPECTATIONS = [{"phrase": "The panel found the answers poor.", "direction": "down"},
                {"phrase": "The panel found the answers excellent.", "direction": "up"}]


def trained(rows, seed: int):
    return train_classifier([r["text"] for r in rows], [int(r["label"] == "yes") for r in rows], 2,
                            TrainConfig(epochs=30, patience=5, seed=seed, label_names=("no", "yes"))).bundle


def suites(bundle, rows, seed: int) -> dict:
    return robustness_report([r["text"] for r in rows], bundle.predict_proba, {"gender": [r["gender"] for r in rows]},
                             {"seed": seed, "n_boot": 500, "adversarial": {"enabled": False}})


def caught(report: dict, suite: str) -> bool:
    low, high = report["suites"][suite]["flip_rate"]["ci"]
    return low is not None and low > 0 and high > LIMIT


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--test", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    found, models = [], {}
    for name, make, suite in (("shortcut", shortcut_rows, "punctuation"), ("name bias", name_bias_rows, "names"),
                              ("clean", clean_rows, None)):
        started = time.perf_counter()
        models[name] = trained(make(args.train, seed=args.seed + 1), args.seed)
        report = suites(models[name], make(args.test, seed=args.seed + 2), args.seed)
        worst = report["summary"]["invariance_flip_rate_upper"]
        print(f"{name:10s} trained+tested in {time.perf_counter() - started:6.1f} s; worst suite {worst['suite']} "
              f"upper {worst['value']:.3f}; " + ", ".join(
                  f"{k} {s['flip_rate']['value']:.3f} [{s['flip_rate']['ci'][0]:.3f}, {s['flip_rate']['ci'][1]:.3f}]"
                  for k, s in report["suites"].items() if s["n_changed"]))
        if suite is not None:
            found.append(caught(report, suite))
        else:
            clean_passed = all(s["flip_rate"]["ci"][1] is None or s["flip_rate"]["ci"][1] <= LIMIT
                               for s in report["suites"].values())

    bundle = models["clean"]
    texts = [r["text"] for r in clean_rows(args.texts, seed=args.seed + 3)]
    groups = {"gender": [r["gender"] for r in clean_rows(args.texts, seed=args.seed + 3)]}
    base = bundle.predict_proba(texts)
    started = time.perf_counter()
    report = robustness_report(texts, bundle.predict_proba, groups,
                               {"seed": args.seed, "n_boot": 1000, "directional": EXPECTATIONS},
                               base_probabilities=base, encoder_space=EncoderSpace(bundle))
    elapsed = time.perf_counter() - started
    evaluations = report["compute"]["model_evaluations"] + report["compute"]["sentence_evaluations"]
    attack = report["adversarial"]
    print(f"suites on {len(texts)} texts: {elapsed:.1f} s, {report['compute']['model_evaluations']} model and "
          f"{report['compute']['sentence_evaluations']} sentence-similarity evaluations; attack success "
          f"{attack['attack_success_rate']['value']:.3f} on {attack['n_attacked']} texts, "
          f"{attack['queries_per_success'] or 0:.0f} queries per success")
    print(f"RESULT robustness texts_per_s={len(texts) / elapsed:.2f} planted_caught={sum(found)}/{len(found)} "
          f"clean_passed={str(clean_passed).lower()} evals_per_s={evaluations / elapsed:.1f}")


if __name__ == "__main__":
    main()
