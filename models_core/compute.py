"""Compute accounting: wall time, CPU time, peak memory, analytic FLOPs, tokens and an energy estimate.

FLOPs are analytic, counted on the padded shapes actually computed. For one sequence of T tokens
through an encoder with L layers, hidden H, intermediate I:

    forward = L * ( 2 * (4*H*H + 2*H*I) * T      # Q,K,V,O projections + feed-forward: 2 FLOPs/MAC
                  + 4 * T*T * H )                 # Q @ K^T and softmax(.) @ V, all heads together
            + 2 * H * C                           # classification head, C labels

Training (forward + backward) counts 3 x forward. Embedding look-ups, LayerNorm, GELU and softmax
are omitted (they are O(T*H), well under 1% here). `tokens` counts non-padding tokens.

Energy is an estimate, not a measurement; `energy_assumption` states the model used:
CPU: 15 W per busy core, times process CPU seconds; GPU: the board's TDP (700 W for H100/H200 SXM,
else 300 W) times wall seconds, plus the CPU term.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from typing import Any, Protocol

import torch

CPU_WATTS_PER_CORE = 15.0
GPU_TDP_WATTS = {"H100": 700.0, "H200": 700.0, "A100": 400.0, "L4": 72.0, "T4": 70.0}
DEFAULT_GPU_WATTS = 300.0


class EncoderShape(Protocol):
    """The sizes the FLOP count reads (models_core.encoder.config.EncoderConfig has them); compute sits below
    the encoder package and imports nothing from models_core."""

    hidden_size: int
    intermediate_size: int
    num_layers: int


def encoder_forward_flops(config: EncoderShape, batch: int, seq_len: int, num_labels: int = 0) -> int:
    """Forward FLOPs for a (batch, seq_len) padded batch; see the module docstring for the formula."""
    h, i = config.hidden_size, config.intermediate_size
    per_sequence = config.num_layers * (2 * (4 * h * h + 2 * h * i) * seq_len + 4 * seq_len * seq_len * h)
    return batch * (per_sequence + 2 * h * num_labels)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):  # not Linux: fall back to the lifetime peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ComputeMeter:
    """Context manager that measures the block it wraps; callers add FLOPs and tokens as they go.

        with ComputeMeter(device) as meter:
            meter.add_batch(config, batch=32, seq_len=40, tokens=1100, num_labels=2, backward=True)
        meter.as_dict()

    On CPU, peak_mem_mb is the peak resident set size of the process during the block, sampled every
    20 ms by a daemon thread (so it includes memory held before the block). On CUDA it is
    `torch.cuda.max_memory_allocated` during the block.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.flops = 0
        self.tokens = 0
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self.peak_mem_mb = 0.0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def add_batch(self, config: EncoderShape, batch: int, seq_len: int, tokens: int,
                  num_labels: int = 0, backward: bool = False) -> None:
        flops = encoder_forward_flops(config, batch, seq_len, num_labels)
        self.flops += 3 * flops if backward else flops
        self.tokens += int(tokens)

    def add_flops(self, flops: int) -> None:
        self.flops += int(flops)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mem_mb = max(self.peak_mem_mb, _rss_mb())

    def __enter__(self) -> "ComputeMeter":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak_mem_mb = _rss_mb()
            self._sampler = threading.Thread(target=self._sample, name="compute-meter", daemon=True)
            self._sampler.start()
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mem_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        self.wall_s += time.perf_counter() - self._wall0
        self.cpu_s += time.process_time() - self._cpu0
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            self._sampler = None
            self.peak_mem_mb = max(self.peak_mem_mb, _rss_mb())

    def _energy(self) -> tuple[float, str]:
        cpu_wh = CPU_WATTS_PER_CORE * self.cpu_s / 3600
        cpu_text = f"CPU: {CPU_WATTS_PER_CORE:g} W per busy core x process CPU seconds"
        if self.device.type != "cuda":
            return cpu_wh, cpu_text
        name = torch.cuda.get_device_name(self.device)
        watts = next((w for key, w in GPU_TDP_WATTS.items() if key in name), DEFAULT_GPU_WATTS)
        return cpu_wh + watts * self.wall_s / 3600, f"GPU ({name}): {watts:g} W TDP x wall seconds; {cpu_text}"

    def as_dict(self) -> dict[str, Any]:
        energy_wh, assumption = self._energy()
        return {"device": str(self.device), "wall_s": round(self.wall_s, 4), "cpu_s": round(self.cpu_s, 4),
                "peak_mem_mb": round(self.peak_mem_mb, 2), "flops": int(self.flops), "tokens": int(self.tokens),
                "energy_wh": energy_wh, "energy_assumption": assumption}


def merge_compute(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum of several as_dict() records (peak memory: the maximum)."""
    if not parts:
        raise ValueError("nothing to merge")
    merged = dict(parts[0])
    for part in parts[1:]:
        for key in ("wall_s", "cpu_s", "flops", "tokens", "energy_wh"):
            merged[key] += part[key]
        merged["peak_mem_mb"] = max(merged["peak_mem_mb"], part["peak_mem_mb"])
    return merged
