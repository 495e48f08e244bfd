"""Decoder artifacts: the same folder layout and digest as classifier artifacts
(models_core.encoder.artifacts: config.json, metadata.json, model.safetensors, tokenizer.json, one SHA-256
over all four), with config.json's `format` "models_core.causal_lm/1". The tied output head is not stored
twice: it is the token embedding matrix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from models_core.decoder.bundle import BUNDLE_FORMAT, DecoderBundle, decoder_from_config
from models_core.decoder.tokenization import load_lm_tokenizer
from models_core.encoder.artifacts import DIGEST_FILE, artifact_digest, canonical_json
from models_core.errors import ArtifactError


def is_decoder_artifact(directory: str | Path) -> bool:
    """Whether the artifact folder holds a causal language model (by its config.json's format)."""
    try:
        config = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(config, dict) and config.get("format") == BUNDLE_FORMAT


def save_decoder_artifact(bundle: DecoderBundle, directory: str | Path, metadata: dict[str, Any]) -> str:
    """Write the bundle to `directory` and return its digest (deterministic, as save_artifact)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metadata_text, config_text = canonical_json(metadata), canonical_json(bundle.config)
    save_file(bundle.model.stored_state(), str(directory / "model.safetensors"))
    (directory / "config.json").write_text(config_text, encoding="utf-8")
    (directory / "tokenizer.json").write_text(bundle.tokenizer.to_str(), encoding="utf-8")
    (directory / "metadata.json").write_text(metadata_text, encoding="utf-8")
    digest = artifact_digest(directory)
    (directory / DIGEST_FILE).write_text(digest + "\n", encoding="ascii")
    return digest


def load_decoder_artifact(directory: str | Path,
                          expected_digest: str | None = None) -> tuple[DecoderBundle, dict[str, Any]]:
    """Verify and load an artifact saved by `save_decoder_artifact`; ArtifactError on any mismatch."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"artifact directory {directory} does not exist")
    digest = artifact_digest(directory)
    if expected_digest is not None and digest != expected_digest.strip().lower():
        raise ArtifactError(f"artifact digest mismatch in {directory}: expected {expected_digest}, got {digest}")
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"artifact JSON in {directory} is malformed: {exc}") from exc
    model = decoder_from_config(config)
    try:
        state = load_file(str(directory / "model.safetensors"))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"cannot read model.safetensors in {directory}: {exc}") from exc
    model.load_stored_state(state)
    tokenizer = load_lm_tokenizer(directory / "tokenizer.json")
    return DecoderBundle(model=model.eval(), tokenizer=tokenizer, config=config), metadata
