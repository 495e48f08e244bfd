"""DP-SGD plumbing for head-only training: per-run secret randomness, the accounting record, and the
statement of what the (ε, δ) guarantee covers.

Randomness. DP-SGD's guarantee assumes the Gaussian noise and the Poisson sampling are secret. Both are
drawn here from `torch.Generator`s seeded per run from the operating system's entropy pool
(`secrets.randbits`), held in memory only and never written to the artifact, the model version or the log,
so nothing stored — the training seed included — replays them. This is *not* Opacus's `secure_mode`
(torchcsprng, which is not installable here): the generators are ordinary PRNGs (CPU: Mersenne Twister,
CUDA: Philox) with a 63-bit secret seed, and the Gaussian sampling is not hardened against floating-point
attacks. The training seed still fixes everything outside the DP mechanism: the train/validation split,
the head's initialisation and dropout masks — randomness the guarantee does not need to be secret.

Accounting. The record (`dp_record`) holds what a reader needs to recompute ε with a fresh Opacus
accountant: σ (noise multiplier), q (Poisson sample rate), the number of noised steps, δ, the accountant
and its precision, and the clipping norm; `epsilon_from_record` does that recomputation.
"""

from __future__ import annotations

import secrets
from typing import Any

import torch

from models_core.errors import InputError

ACCOUNTANT = "prv"          # Opacus's PRV accountant; its get_epsilon returns the upper bound
PRV_EPS_ERROR = 0.01        # Opacus's default precision for the PRV upper bound
RECORD_FORMAT = 2           # 1: before issue #16 (noise replayable from the training seed)

NOISE_SOURCE = ("torch.Generator seeded per run from OS entropy (secrets.randbits, 63 bits), kept in memory "
                "only and never stored; not a CSPRNG and not Opacus secure_mode")
SEED_SCOPE = ("the training seed fixes the train/validation split, the head's initialisation and dropout; "
              "it does not determine the DP noise or the Poisson sampling")
COVERS = [
    "example-level (ε, δ)-differential privacy, under the recorded accountant, for each training-split record "
    "of this run (adding or removing one record)",
    "the fine-tuned parameters (the classification head) and everything computed from them alone",
]
DOES_NOT_COVER = [
    "the pretrained encoder's own training data (it is used frozen and never sees this run's records)",
    "the validation split: its metrics and per-epoch history are released without noise",
    "hyperparameter tuning or model choice across several runs on the same data (each run spends its own ε)",
    "group-level privacy: a person with k records (including rows duplicated by resampling) is protected "
    "only at about k·ε",
    "attacks on the random number generator or on floating-point noise sampling (no secure_mode)",
]


def entropy_generator(device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on `device`, seeded from OS entropy; the seed is not kept anywhere."""
    generator = torch.Generator(device=device)
    generator.manual_seed(secrets.randbits(63))
    return generator


def check_dp_sample_weights(weights: Any) -> None:
    """Refuse non-uniform sample weights under DP.

    Data-dependent weights (reweighing for a fairness mitigation, say) are computed from the whole training
    set, so each row's weight depends on the other rows: that dependence sits outside the DP-SGD accounting,
    whose sensitivity bound assumes each row's clipped gradient depends on that row alone.
    """
    if weights is None:
        return
    w = torch.as_tensor(weights, dtype=torch.float64)
    if w.numel() and not torch.all(w == w[0]):
        raise InputError("DP-SGD cannot train with data-dependent sample weights (e.g. fairness reweighing): "
                         "the weights depend on other records and fall outside the privacy accounting. Train "
                         "on unweighted data, or without DP.")


def dp_record(*, engine: Any, delta: float, max_grad_norm: float, target_epsilon: float | None,
              epochs: int) -> dict[str, Any]:
    """The accounting of one finished DP run, read from its PrivacyEngine."""
    import opacus

    history = list(engine.accountant.history)  # [(σ, q, steps)]; one entry as σ and q never change here
    if len(history) != 1:
        raise InputError(f"expected one (σ, q) phase in the accountant's history, found {len(history)}")
    sigma, q, steps = history[0]
    epsilon = float(engine.accountant.get_epsilon(delta=delta, eps_error=PRV_EPS_ERROR))
    return {"record_format": RECORD_FORMAT, "epsilon": epsilon, "delta": delta,
            "noise_multiplier": float(sigma), "sample_rate": float(q), "steps": int(steps), "epochs": epochs,
            "max_grad_norm": max_grad_norm, "target_epsilon": target_epsilon,
            "accountant": ACCOUNTANT, "accountant_eps_error": PRV_EPS_ERROR,
            "opacus_version": opacus.__version__, "sampling": "Poisson", "selection": "none: last epoch kept",
            "secure_mode": False, "noise_source": NOISE_SOURCE, "seed_scope": SEED_SCOPE,
            "scope": "classification head only; the pretrained encoder never sees training data",
            "covers": COVERS, "does_not_cover": DOES_NOT_COVER}


def epsilon_from_record(record: dict[str, Any]) -> float:
    """ε recomputed by a fresh Opacus accountant from the recorded (σ, q, steps, δ)."""
    from opacus.accountants import create_accountant

    accountant = create_accountant(record["accountant"])
    accountant.history = [(record["noise_multiplier"], record["sample_rate"], record["steps"])]
    kwargs = {"eps_error": record["accountant_eps_error"]} if record["accountant"] == "prv" else {}
    return float(accountant.get_epsilon(delta=record["delta"], **kwargs))
