import json

import pytest
import torch

from models_core.decoder.artifacts import is_decoder_artifact, load_decoder_artifact, save_decoder_artifact
from models_core.decoder.generation import GenerationConfig, generate
from models_core.decoder.gpt2 import load_gpt2_folder
from models_core.decoder.training import DecoderTrainConfig, train_decoder
from models_core.encoder.artifacts import extract_model_zip
from models_core.errors import ArtifactError, InputError
from models_core.training.privacy import epsilon_from_record

NOTES = [f"Note {i}: the patient felt {'better' if i % 3 else 'worse'} after the visit on day {i % 28 + 1}."
         for i in range(60)]


def test_imported_gpt2_logits_equal_transformers(tiny_gpt2, tmp_path):
    folder = extract_model_zip(tiny_gpt2["zip"], tmp_path / "unzipped")
    bundle = load_gpt2_folder(folder)
    ids = torch.randint(0, bundle.model.config.vocab_size, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ours, theirs = bundle.model(ids), tiny_gpt2["reference"](ids).logits
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() <= 1e-5


def test_imported_gpt2_greedy_generation_equals_transformers(tiny_gpt2):
    bundle = load_gpt2_folder(tiny_gpt2["folder"])
    prompt = [bundle.eos_id] + bundle.token_ids(["the patient"])[0]
    ours = generate(bundle, ["the patient"], GenerationConfig(max_new_tokens=12, stop_at_eos=False))[0]
    with torch.inference_mode():
        ids = torch.tensor([prompt])  # the mask is explicit: transformers would take the leading eos for padding
        out = tiny_gpt2["reference"].generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                              do_sample=False, pad_token_id=bundle.eos_id, eos_token_id=None)
    assert ours == bundle.tokenizer.decode(out[0, len(prompt):].tolist())


def test_pickle_checkpoint_in_zip_is_refused(tiny_gpt2, tmp_path):
    with pytest.raises(ArtifactError, match="pickle"):
        extract_model_zip(tiny_gpt2["pickle_zip"], tmp_path / "x")


def test_untied_or_foreign_checkpoint_is_refused(tiny_gpt2, tmp_path):
    folder = tmp_path / "bert-like"
    folder.mkdir()
    for name in ("model.safetensors", "tokenizer.json"):
        (folder / name).write_bytes((tiny_gpt2["folder"] / name).read_bytes())
    hf = json.loads((tiny_gpt2["folder"] / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**hf, "model_type": "bert"}))
    with pytest.raises(ArtifactError, match="model_type"):
        load_gpt2_folder(folder)
    (folder / "config.json").write_text(json.dumps({**hf, "scale_attn_by_inverse_layer_idx": True}))
    with pytest.raises(ArtifactError, match="scale_attn_by_inverse_layer_idx"):
        load_gpt2_folder(folder)


@pytest.fixture(scope="module")
def trained():
    return train_decoder(NOTES, DecoderTrainConfig(epochs=4, hidden_size=32, intermediate_size=128, seed=3))


def test_training_lowers_holdout_perplexity_below_a_fresh_model(trained):
    fresh = train_decoder(NOTES, DecoderTrainConfig(epochs=1, lr=1e-9, hidden_size=32, intermediate_size=128, seed=3))
    assert trained.metrics["holdout_perplexity"] < 0.5 * fresh.metrics["holdout_perplexity"]
    assert trained.metrics["holdout_perplexity"] == pytest.approx(trained.bundle.perplexity(trained.holdout_texts))
    assert trained.metrics["n_holdout"] == 6 and trained.dp is None


def test_training_without_dp_is_reproducible(trained, tmp_path):
    again = train_decoder(NOTES, DecoderTrainConfig(epochs=4, hidden_size=32, intermediate_size=128, seed=3))
    a = save_decoder_artifact(trained.bundle, tmp_path / "a", {"x": 1})
    b = save_decoder_artifact(again.bundle, tmp_path / "b", {"x": 1})
    assert a == b


def test_artifact_round_trip_and_tamper_detection(trained, tmp_path):
    digest = save_decoder_artifact(trained.bundle, tmp_path / "art", {"note": "test"})
    assert is_decoder_artifact(tmp_path / "art")
    loaded, metadata = load_decoder_artifact(tmp_path / "art", expected_digest=digest)
    assert metadata == {"note": "test"}
    ids = torch.tensor([trained.bundle.sequences(NOTES[:1])[0]])
    with torch.inference_mode():
        assert torch.equal(loaded.model(ids), trained.bundle.model(ids))
    assert loaded.model.head.weight is loaded.model.embeddings.word.weight  # still tied after loading
    (tmp_path / "art" / "metadata.json").write_text('{"note": "edited"}\n')
    with pytest.raises(ArtifactError, match="digest mismatch"):
        load_decoder_artifact(tmp_path / "art", expected_digest=digest)


def test_generation_is_seeded_and_strategies_agree_where_they_must(trained):
    bundle = trained.bundle
    greedy = generate(bundle, ["Note 5: the"], GenerationConfig(max_new_tokens=20))
    assert generate(bundle, ["Note 5: the"], GenerationConfig(strategy="top_k", top_k=1, max_new_tokens=20)) == greedy
    assert generate(bundle, ["Note 5: the"], GenerationConfig(strategy="top_p", top_p=1e-6, max_new_tokens=20)) == greedy
    sampled = [generate(bundle, ["Note", "Note"], GenerationConfig(strategy="top_p", top_p=0.95, temperature=2.0,
                                                                   max_new_tokens=30, seed=s)) for s in (7, 7, 8)]
    assert sampled[0] == sampled[1] and sampled[0] != sampled[2]
    with pytest.raises(InputError):
        GenerationConfig(strategy="beam")


def test_dp_training_records_a_checkable_epsilon():
    result = train_decoder(NOTES, DecoderTrainConfig(epochs=2, hidden_size=32, intermediate_size=128, dp=True,
                                                     dp_noise_multiplier=1.2))
    assert result.dp["steps"] == result.metrics["steps"] > 0
    assert epsilon_from_record(result.dp) == pytest.approx(result.dp["epsilon"], rel=1e-6)
    assert "every weight" in result.dp["scope"]
