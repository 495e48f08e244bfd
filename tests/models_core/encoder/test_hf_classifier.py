"""models_core.encoder.hf_classifier against transformers: a tiny random BertForSequenceClassification (3 labels)
saved with safetensors gives the same logits through this project's encoder with the mapped head (≤ 1e-5)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from models_core.encoder.artifacts import load_artifact, save_artifact
from models_core.encoder.hf_classifier import bundle_from_hf_classifier, check_classifier_outputs
from models_core.encoder.pretrained import default_encoder_dir
from models_core.errors import ArtifactError

TEXTS = ["The applicant has ten years of experience.", "short", "She led the team; shipped on time, under budget!"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=3,
                        id2label={0: "low", 1: "mid", 2: "high"}, label2id={"low": 0, "mid": 1, "high": 2})
    model = BertForSequenceClassification(config).eval()
    folder = tmp_path_factory.mktemp("tiny-clf")
    model.save_pretrained(str(folder), safe_serialization=True)
    shutil.copy(default_encoder_dir() / "tokenizer.json", folder / "tokenizer.json")
    return model, folder


def test_logits_equal_transformers_and_survive_the_artifact_round_trip(tiny, tmp_path):
    model, folder = tiny
    bundle, summary = bundle_from_hf_classifier(folder)
    assert bundle.label_names == ["low", "mid", "high"] and summary["architecture"] == "BertForSequenceClassification"
    enc = bundle.encode(TEXTS)
    with torch.inference_mode():
        theirs = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                       token_type_ids=enc["token_type_ids"]).logits
        ours = bundle.model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    assert float((ours - theirs).abs().max()) <= 1e-5
    save_artifact(bundle, tmp_path / "a", metadata={})
    loaded, _ = load_artifact(tmp_path / "a")
    with torch.inference_mode():
        again = loaded.model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    assert torch.equal(again, ours)
    assert check_classifier_outputs(bundle, TEXTS)["num_labels"] == 3


@pytest.mark.parametrize("change,message", [
    ({"id2label": {"0": "a", "1": "b"}, "num_labels": 2}, "2 labels"),  # promises 2 outputs, has 3
    ({"id2label": {"0": "a", "2": "b", "3": "c"}}, "indices"),
    ({"architectures": ["BertModel"]}, "ForSequenceClassification"),
    ({"problem_type": "multi_label_classification"}, "single-label"),
    ({"model_type": "gpt2"}, "BERT-family"),
])
def test_configs_that_break_their_promise_are_refused(tiny, tmp_path, change, message):
    _, folder = tiny
    target = tmp_path / "x"
    shutil.copytree(folder, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ArtifactError, match=message):
        bundle_from_hf_classifier(target)
