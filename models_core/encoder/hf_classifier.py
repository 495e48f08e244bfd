"""Import a sequence classifier fine-tuned elsewhere: a Hugging Face BERT-family
`…ForSequenceClassification` folder (config.json, model.safetensors, tokenizer.json) loaded by this project's
own encoder with the classifier head mapped (hf_heads), checked against what its config promises.

    bundle, summary = bundle_from_hf_classifier(directory, max_length=128)
    checks = check_classifier_outputs(bundle, probe_texts)      # shapes, finiteness, label names

The bundle is an ordinary ClassifierBundle (pooling "cls_pooler"): save_artifact / load_artifact, audits,
explanations and threshold mitigation use it like a classifier trained here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from models_core.encoder.bundle import ClassifierBundle, bundle_config
from models_core.encoder.classifier import TextClassifier
from models_core.encoder.config import BERT_FAMILY, EncoderConfig
from models_core.encoder.hf_heads import load_classifier_weights, load_pooler_weights, read_hf_tensors
from models_core.encoder.tokenization import load_tokenizer
from models_core.encoder.transformer import Encoder, hf_state_dict_to_encoder, load_encoder_state
from models_core.errors import ArtifactError

MAX_LABELS = 50


def _label_names(hf: dict[str, Any]) -> list[str]:
    """Names in output order, from id2label (keys "0".."n-1"), which must agree with num_labels when both
    are given; ["0", "1", ...] when the config names none."""
    id2label = hf.get("id2label")
    declared = hf.get("num_labels")
    if id2label:
        if not isinstance(id2label, dict):
            raise ArtifactError("config.json id2label must map output indices to label names")
        try:
            by_index = {int(k): str(v).strip() for k, v in id2label.items()}
        except (TypeError, ValueError) as exc:
            raise ArtifactError(f"config.json id2label has a key that is not an index: {exc}") from exc
        n = len(by_index)
        if sorted(by_index) != list(range(n)):
            raise ArtifactError(f"config.json id2label must cover indices 0..{n - 1} exactly")
        names = [by_index[i] for i in range(n)]
        if any(not name for name in names) or len(set(names)) != n:
            raise ArtifactError("config.json id2label names must be non-empty and distinct")
        if declared is not None and int(declared) != n:
            raise ArtifactError(f"config.json says num_labels {declared} but id2label names {n} labels")
        return names
    n = int(declared if declared is not None else 2)
    return [str(i) for i in range(n)]


def hf_classifier_config(directory: str | Path) -> dict[str, Any]:
    """config.json of the folder, refused unless it is a single-label BERT-family sequence classifier."""
    path = Path(directory) / "config.json"
    try:
        hf = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"config.json cannot be read: {exc}") from exc
    if not isinstance(hf, dict):
        raise ArtifactError("config.json is not a JSON object")
    model_type = hf.get("model_type", "bert")
    if model_type not in BERT_FAMILY:
        raise ArtifactError(f"model_type {model_type!r} is not a BERT-family model ({', '.join(sorted(BERT_FAMILY))})")
    architectures = hf.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise ArtifactError(f"config.json architectures {architectures} name no …ForSequenceClassification model; "
                            "register a bare encoder as a pretrained encoder instead")
    problem = hf.get("problem_type")
    if problem not in (None, "single_label_classification"):
        raise ArtifactError(f"problem_type {problem!r} is not supported: only single-label classification")
    return hf


def bundle_from_hf_classifier(directory: str | Path, max_length: int = 128) -> tuple[ClassifierBundle, dict]:
    """The folder's classifier as a ClassifierBundle, and a summary of what was imported."""
    directory = Path(directory)
    hf = hf_classifier_config(directory)
    names = _label_names(hf)
    if not 2 <= len(names) <= MAX_LABELS:
        raise ArtifactError(f"the classifier has {len(names)} labels; 2 to {MAX_LABELS} are supported")
    encoder_config = EncoderConfig.from_hf_config(hf)
    if max_length > encoder_config.max_position:
        max_length = encoder_config.max_position
    tensors = read_hf_tensors(directory)
    encoder = Encoder(encoder_config)
    load_encoder_state(encoder, hf_state_dict_to_encoder(tensors))
    dropout = hf.get("classifier_dropout")
    dropout = float(dropout if dropout is not None else hf.get("hidden_dropout_prob", 0.1))
    model = TextClassifier(encoder, len(names), dropout, pooling="cls_pooler")
    load_pooler_weights(model, tensors)
    load_classifier_weights(model, tensors)
    tokenizer = load_tokenizer(directory, max_length=max_length)
    if tokenizer.get_vocab_size() > encoder_config.vocab_size:
        raise ArtifactError(f"tokenizer has {tokenizer.get_vocab_size()} tokens but the encoder only "
                            f"{encoder_config.vocab_size} embeddings")
    architecture = next(str(a) for a in hf["architectures"] if str(a).endswith("ForSequenceClassification"))
    config = bundle_config(encoder_config, len(names), names, max_length, dropout, pooling="cls_pooler",
                           imported={"architecture": architecture, "model_type": hf.get("model_type", "bert")})
    bundle = ClassifierBundle(model=model.eval(), tokenizer=tokenizer, config=config, label_names=names)
    summary = {"architecture": architecture, "model_type": hf.get("model_type", "bert"), "label_names": names,
               "num_labels": len(names), "layers": encoder_config.num_layers, "hidden": encoder_config.hidden_size,
               "heads": encoder_config.num_heads, "vocab": encoder_config.vocab_size, "max_length": max_length,
               "pooling": "cls_pooler (BERT pooler over [CLS])", "head_dropout": dropout}
    return bundle, summary


def check_classifier_outputs(bundle: ClassifierBundle, probe_texts: Sequence[str]) -> dict[str, Any]:
    """Run the imported classifier on `probe_texts` and check its outputs against its config: one logit per
    declared label, finite, probabilities summing to 1. ArtifactError otherwise; a summary when it holds."""
    texts = [t for t in probe_texts if isinstance(t, str) and t.strip()][:64]
    if not texts:
        raise ArtifactError("no probe text to check the classifier's outputs on")
    encoded = bundle.encode(texts)
    with torch.inference_mode():
        logits = bundle.model(encoded["input_ids"], encoded["attention_mask"], encoded["token_type_ids"])
    if logits.ndim != 2 or logits.shape != (len(texts), len(bundle.label_names)):
        raise ArtifactError(f"the classifier outputs shape {tuple(logits.shape)}, but its config promises "
                            f"{len(bundle.label_names)} labels ({', '.join(bundle.label_names)})")
    if not torch.isfinite(logits).all():
        raise ArtifactError("the classifier outputs non-finite logits")
    probabilities = torch.softmax(logits.double(), dim=-1).numpy()
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-9):
        raise ArtifactError("the classifier's probabilities do not sum to 1")
    predicted = np.bincount(probabilities.argmax(axis=1), minlength=len(bundle.label_names))
    return {"probe_rows": len(texts), "num_labels": len(bundle.label_names), "label_names": list(bundle.label_names),
            "predicted_counts": {name: int(c) for name, c in zip(bundle.label_names, predicted)}}
