"""Benchmark: what DP-SGD buys against memorisation. A small byte-level decoder (models_core.decoder) is
trained twice on the same seeded service notes (models_core.data.notes: people with e-mails, phones, IBANs,
several notes for some) plus planted canaries (models_core.generative.canaries: 2 secrets each inserted 1, 4
and 16 times, 2 controls never inserted): once plainly, once with DP-SGD (Opacus, every weight, noise from OS
entropy), same architecture, epochs, seed and data.

exposure_*: the mean exposure (bits; Secret Sharer, rank among 2,000 sampled secrets of 10^6) over the 6
inserted canaries; extracted_*: how many PII findings of the training records the model reproduces exactly
when prompted with the record's prefix (models_core.generative.extraction). DP must lower both.

Last line: RESULT memorisation exposure_plain=<bits> exposure_dp=<bits> extracted_plain=<n> extracted_dp=<n>
(also: epsilon, holdout perplexities, the 16× canaries' mean exposure, seconds).

Run: .venv/bin/python bench/memorisation.py [--subjects N] [--epochs E] [--noise SIGMA]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--noise", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from models_core.data.notes import service_notes
    from models_core.decoder.training import DecoderTrainConfig, train_decoder
    from models_core.generative.canaries import inserted_texts, make_canaries
    from models_core.generative.exposure import canary_exposure
    from models_core.generative.extraction import extraction_probe

    rows = service_notes(args.subjects, seed=args.seed)
    texts, subjects = [r["text"] for r in rows], [r["subject_id"] for r in rows]
    plan = make_canaries(seed=args.seed + 1)
    out = {}
    for name, dp in (("plain", False), ("dp", True)):
        start = time.perf_counter()
        result = train_decoder(texts, DecoderTrainConfig(epochs=args.epochs, batch_size=16, seed=args.seed, dp=dp,
                                                         dp_noise_multiplier=args.noise),
                               inserted=inserted_texts(plan))
        train_s = time.perf_counter() - start
        exposure = canary_exposure(result.bundle, plan, n_candidates=2000, seed=args.seed)
        inserted = [c["exposure"] for c in exposure["canaries"] if c["repeats"] > 0]
        extraction = extraction_probe(result.bundle, texts, subjects)
        out[name] = {"exposure": sum(inserted) / len(inserted), "exposure16": exposure["by_repeats"]["16"]["mean_exposure"],
                     "control": exposure["by_repeats"]["0"]["mean_exposure"],
                     "extracted": extraction["findings_extracted"], "probed": extraction["findings_probed"],
                     "by_kind": {k: v["extracted"] for k, v in extraction["by_kind"].items()},
                     "ppl": result.metrics["holdout_perplexity"], "eps": (result.dp or {}).get("epsilon"),
                     "train_s": train_s}
        print(f"{name}: train {train_s:.1f} s, holdout perplexity {out[name]['ppl']:.2f}, epsilon "
              f"{out[name]['eps']}, exposure inserted {out[name]['exposure']:.2f} bits (16x "
              f"{out[name]['exposure16']:.2f}, controls {out[name]['control']:.2f}), extracted "
              f"{out[name]['extracted']}/{out[name]['probed']} {out[name]['by_kind']}", flush=True)
    plain, dp = out["plain"], out["dp"]
    print(f"RESULT memorisation exposure_plain={plain['exposure']:.2f} exposure_dp={dp['exposure']:.2f} "
          f"extracted_plain={plain['extracted']} extracted_dp={dp['extracted']} epsilon={dp['eps']:.2f} "
          f"exposure16_plain={plain['exposure16']:.2f} exposure16_dp={dp['exposure16']:.2f} "
          f"ppl_plain={plain['ppl']:.2f} ppl_dp={dp['ppl']:.2f} train_s_plain={plain['train_s']:.1f} "
          f"train_s_dp={dp['train_s']:.1f}")


if __name__ == "__main__":
    main()
