"""Encoder benchmark: models_core's Transformer vs Hugging Face `BertModel` (sdpa) on the MiniLM-L6 weights.

(a) fixed shape: batch 32 x 64 tokens, no padding, last hidden states;
(b) 2,000 seeded texts of 8-128 tokens, each library used as by default:
    HF: `tokenizer(batch, padding=True, truncation=True)` in batches of 32 in the given order, BertModel,
        masked mean pooling;
    ours: the predict path (`models_core.encoder.inference.pooled_features`, batch_size=32): tokenize once, sort by
        length, buckets within the padded-token budget of 32 x 128, per-bucket padding, masked mean
        pooling, original order restored.
(c) the same texts against a length-sorted baseline: sentence-transformers' `SentenceTransformer(folder).encode`
    (loads the same MiniLM folder offline with its modules.json: BertModel, mean pooling, Normalize; sorts
    the texts by length, batches of 32 padded to their longest; max_seq_length set to our 128), against our
    pooled vectors L2-normalised (the same output), compared to 1e-5.
Both run in fp32 on the same device (CUDA if available, else CPU) with torch's default thread count.
(a) is timed as the best of `--reps` runs, alternating libraries, after one warm-up; (b) and (c) after a
warm-up on 64 texts, in `--varied-reps` rounds (3 by default) that each run ours, sentence-transformers and
HF in turn (interleaved, the order rotated each round); the ratios are the medians of the per-round ratios
(wall clock; the CPU-seconds ratio is printed beside the sorted one).

Run: .venv/bin/python bench/encoder.py [--texts 2000] [--reps 3] [--varied-reps 3]
Last line: RESULT encoder fixed_ratio=… varied_ratio=… sorted_ratio=… max_abs_diff=… sorted_max_abs_diff=…
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers import AutoTokenizer, BertModel  # noqa: E402

from models_core.compute import encoder_forward_flops  # noqa: E402
from models_core.encoder.classifier import TextClassifier  # noqa: E402
from models_core.encoder.inference import length_buckets, pooled_features, token_budget  # noqa: E402
from models_core.encoder.pretrained import default_encoder_dir  # noqa: E402
from models_core.encoder.tokenization import encode_texts, load_tokenizer  # noqa: E402
from models_core.encoder.transformer import gemm_backend, load_pretrained_encoder  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def best_time(fn, reps: int, device: torch.device) -> float:
    best = float("inf")
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def matmul_peak_gflops(device: torch.device) -> float:
    """The fastest fp32 square product: torch.mm (MKL on x86 CPUs), and on CPU also oneDNN's Linear kernel,
    which the encoder uses when it times faster (`gemm_backend`)."""
    n = 2048 if device.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    candidates = [lambda: torch.mm(a, b)]
    if device.type == "cpu" and gemm_backend()["kernel"] == "onednn":
        candidates.append(lambda: torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], ""))
    best = float("inf")
    for fn in candidates:
        fn()
        best = min(best, best_time(fn, 5, device))
    return 2 * n**3 / best / 1e9


def seeded_texts(tokenizer, count: int, seed: int = 0) -> list[str]:
    """`count` texts whose tokenization (with [CLS]/[SEP]) has 8..128 tokens, uniformly, seeded."""
    vocab = tokenizer.get_vocab()
    words = sorted(w for w in vocab if w.isalpha() and w.isascii() and len(w) > 2)
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(8, 128) - 2)) for _ in range(count)]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--varied-reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    directory = default_encoder_dir()
    ours = TextClassifier(load_pretrained_encoder(directory), num_labels=2).to(device).eval()
    hf = BertModel.from_pretrained(str(directory), attn_implementation="sdpa").to(device).eval()
    our_tok = load_tokenizer(directory, max_length=128)
    hf_tok = AutoTokenizer.from_pretrained(str(directory))
    config = ours.encoder.config
    peak = matmul_peak_gflops(device)
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} gemm={gemm_backend()} "
          f"fp32 matmul peak={peak:.1f} GFLOP/s")

    # (a) fixed shape
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (32, 64), generator=gen)
    ids[:, 0], ids[:, -1] = 101, 102
    ids, mask = ids.to(device), torch.ones_like(ids).to(device)
    with torch.inference_mode():
        ours_fixed = lambda: ours.encoder(ids, mask)  # noqa: E731
        hf_fixed = lambda: hf(input_ids=ids, attention_mask=mask).last_hidden_state  # noqa: E731
        diff_a = (ours_fixed() - hf_fixed()).abs().max().item()
        t_ours_a = t_hf_a = float("inf")
        for _ in range(args.reps):  # alternate so both see the same machine load
            t_ours_a = min(t_ours_a, best_time(ours_fixed, 1, device))
            t_hf_a = min(t_hf_a, best_time(hf_fixed, 1, device))
    flops_a = encoder_forward_flops(config, 32, 64)
    print(f"(a) fixed 32x64: ours {32 / t_ours_a:.1f} sent/s ({flops_a / t_ours_a / 1e9:.1f} GFLOP/s, "
          f"{100 * flops_a / t_ours_a / 1e9 / peak:.0f}% of peak) | HF {32 / t_hf_a:.1f} sent/s "
          f"({flops_a / t_hf_a / 1e9:.1f} GFLOP/s) | ratio {t_hf_a / t_ours_a:.2f} | max_abs_diff {diff_a:.2e}")

    # (b) varied lengths
    texts = seeded_texts(hf_tok, args.texts)
    lengths = [len(e.ids) for e in encode_texts(our_tok, texts)]
    print(f"(b) {len(texts)} texts, tokens min {min(lengths)} max {max(lengths)} mean {np.mean(lengths):.1f}")

    def run_hf() -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = hf_tok(texts[start:start + 32], padding=True, truncation=True, max_length=128,
                               return_tensors="pt").to(device)
                hidden = hf(**batch).last_hidden_state
                m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                out.append(((hidden * m).sum(1) / m.sum(1)).cpu())
        return torch.cat(out).double().numpy()

    def run_ours() -> np.ndarray:
        return pooled_features(ours, our_tok, texts, batch_size=32, device=device)[0]

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(directory), device=str(device))
    st.max_seq_length = 128

    def run_st() -> np.ndarray:
        return st.encode(texts, batch_size=32, convert_to_numpy=True).astype(np.float64)


    hf_flops = sum(encoder_forward_flops(config, len(lengths[s:s + 32]), max(lengths[s:s + 32]))
                   for s in range(0, len(texts), 32))
    our_flops = sum(encoder_forward_flops(config, len(b), max(lengths[i] for i in b))
                    for b in length_buckets(lengths, 32, token_budget(our_tok, 32)))
    all_texts = texts
    texts = all_texts[:64]
    run_ours(), run_hf(), run_st()  # warm-up on a few texts
    texts = all_texts
    rounds: dict[str, list[float]] = {"ours": [], "st": [], "hf": []}
    cpu: dict[str, list[float]] = {"ours": [], "st": [], "hf": []}
    outputs = {}
    sides = [("ours", run_ours), ("st", run_st), ("hf", run_hf)]
    for r in range(args.varied_reps):  # interleaved rounds, the order rotated; their outputs are compared
        for name, fn in sides[r % 3:] + sides[:r % 3]:
            sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = fn()
            sync(device)
            rounds[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
        print(f"(b/c) round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s (cpu {cpu[k][-1]:.2f}s)" for k, v in rounds.items())
              + f"; ratios st/ours {rounds['st'][-1] / rounds['ours'][-1]:.2f}, hf/ours "
              f"{rounds['hf'][-1] / rounds['ours'][-1]:.2f}", flush=True)
    # Each side's time is the median of its rounds; the ratios are the medians of the per-round ratios (each
    # round's sides ran minutes apart, so a ratio within a round is less exposed to the load's drift).
    t_ours_b, t_st, t_hf_b = (statistics.median(rounds[k]) for k in ("ours", "st", "hf"))
    varied_ratio = statistics.median(h / o for h, o in zip(rounds["hf"], rounds["ours"]))
    sorted_ratio = statistics.median(t / o for t, o in zip(rounds["st"], rounds["ours"]))
    cpu_sorted_ratio = statistics.median(t / o for t, o in zip(cpu["st"], cpu["ours"]))
    ours_pooled, hf_pooled = outputs["ours"], outputs["hf"]
    # sentence-transformers' folder ends with Normalize: the same vectors, L2-normalised (microseconds)
    ours_normalised = ours_pooled / np.linalg.norm(ours_pooled, axis=1, keepdims=True)
    diff_b = float(np.abs(ours_pooled - hf_pooled).max())
    diff_c = float(np.abs(ours_normalised - outputs["st"]).max())
    n = len(texts)
    print(f"(b) varied (median of {args.varied_reps} rounds): ours {n / t_ours_b:.1f} sent/s ({our_flops / t_ours_b / 1e9:.1f} GFLOP/s, "
          f"{our_flops / 1e12:.2f} TFLOP) | HF {n / t_hf_b:.1f} sent/s ({hf_flops / t_hf_b / 1e9:.1f} GFLOP/s, "
          f"{hf_flops / 1e12:.2f} TFLOP) | ratio {varied_ratio:.2f} | max_abs_diff (pooled) {diff_b:.2e}")
    print(f"(c) length-sorted: ours {n / t_ours_b:.1f} sent/s | sentence-transformers encode {n / t_st:.1f} sent/s | "
          f"ratio {sorted_ratio:.2f} (CPU seconds: {cpu_sorted_ratio:.2f}) | max_abs_diff (normalised) {diff_c:.2e}")
    print(f"RESULT encoder fixed_ratio={t_hf_a / t_ours_a:.2f} varied_ratio={varied_ratio:.2f} "
          f"sorted_ratio={sorted_ratio:.2f} max_abs_diff={max(diff_a, diff_b):.2e} sorted_max_abs_diff={diff_c:.2e}")


if __name__ == "__main__":
    main()
