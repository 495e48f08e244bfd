import json

import pytest
import torch

from models_core.encoder.config import EncoderConfig
from models_core.encoder.tokenization import pad_encodings, encode_texts
from models_core.encoder.transformer import Encoder, load_pretrained_encoder
from models_core.errors import ArtifactError, InputError

TEXTS = [
    "Software engineer with 7 years of experience. She led a team of a payments platform.",
    "Nurse.",
    "Accountant with 12 years of experience. He assisted with the quarterly audit. Skills: excel, sql.",
    "The quick brown fox jumps over the lazy dog " * 20,  # truncated to 128 tokens
]


def _non_padded_max_diff(ours, theirs, mask):
    return (ours - theirs)[mask.bool()].abs().max().item()


def test_hidden_states_equal_hf_bert_on_padded_batch(minilm_encoder, minilm_tokenizer, hf_minilm):
    batch = pad_encodings(encode_texts(minilm_tokenizer, TEXTS), pad_id=0)
    assert batch["attention_mask"].sum(1).tolist()[3] == 128
    assert batch["attention_mask"][1].sum() < batch["attention_mask"].shape[1]  # really padded
    with torch.inference_mode():
        ours = minilm_encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        theirs = hf_minilm(**batch).last_hidden_state
    assert ours.shape == theirs.shape == (4, 128, 384)
    assert _non_padded_max_diff(ours, theirs, batch["attention_mask"]) <= 1e-5


def test_hidden_states_equal_hf_with_token_types_and_no_padding(minilm_encoder, hf_minilm):
    gen = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1000, 30000, (3, 40), generator=gen)
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 20:] = 1
    mask = torch.ones_like(input_ids)
    with torch.inference_mode():
        ours = minilm_encoder(input_ids, mask, token_type_ids)
        theirs = hf_minilm(input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids).last_hidden_state
    assert (ours - theirs).abs().max().item() <= 1e-5


def test_padding_does_not_change_real_positions(minilm_encoder, minilm_tokenizer):
    alone = pad_encodings(encode_texts(minilm_tokenizer, TEXTS[1:2]), 0)
    batch = pad_encodings(encode_texts(minilm_tokenizer, TEXTS[:2]), 0)
    n = alone["input_ids"].shape[1]
    with torch.inference_mode():
        a = minilm_encoder(alone["input_ids"], alone["attention_mask"])
        b = minilm_encoder(batch["input_ids"], batch["attention_mask"])
    assert (a[0] - b[1, :n]).abs().max().item() <= 1e-5


def test_second_checkpoint_written_by_hf_also_matches(tiny_bert_dir):
    transformers = pytest.importorskip("transformers")
    ours = load_pretrained_encoder(tiny_bert_dir)
    theirs = transformers.BertModel.from_pretrained(str(tiny_bert_dir), attn_implementation="sdpa").eval()
    ids = torch.randint(1000, 30000, (2, 17), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    with torch.inference_mode():
        diff = _non_padded_max_diff(ours(ids, mask), theirs(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
    assert diff <= 1e-5


def test_config_round_trips_through_hf_and_dict(minilm_dir):
    hf = json.loads((minilm_dir / "config.json").read_text())
    config = EncoderConfig.from_hf_config(hf)
    assert (config.hidden_size, config.num_layers, config.num_heads, config.vocab_size) == (384, 6, 12, 30522)
    assert EncoderConfig.from_dict(config.to_dict()) == config
    assert EncoderConfig.from_hf_config(config.to_hf_config()) == config


def test_unsupported_or_broken_checkpoints_raise_artifact_error(tmp_path, minilm_dir):
    hf = json.loads((minilm_dir / "config.json").read_text())
    with pytest.raises(ArtifactError, match="hidden_act"):
        EncoderConfig.from_hf_config({**hf, "hidden_act": "relu"})
    with pytest.raises(ArtifactError, match="model_type"):
        EncoderConfig.from_hf_config({**hf, "model_type": "gpt2"})
    with pytest.raises(InputError):
        EncoderConfig(hidden_size=100, num_heads=12)
    (tmp_path / "config.json").write_text(json.dumps(hf))
    with pytest.raises(ArtifactError, match="model.safetensors"):
        load_pretrained_encoder(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError):
        load_pretrained_encoder(tmp_path)


def test_weights_of_the_wrong_shape_are_refused(tmp_path, tiny_bert_dir):
    hf = json.loads((tiny_bert_dir / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**hf, "intermediate_size": 128}))
    (tmp_path / "model.safetensors").write_bytes((tiny_bert_dir / "model.safetensors").read_bytes())
    with pytest.raises(ArtifactError, match="shape"):
        load_pretrained_encoder(tmp_path)


def test_random_encoder_runs_with_dropout_in_training_mode():
    encoder = Encoder(EncoderConfig(vocab_size=50, hidden_size=16, num_layers=1, num_heads=2,
                                    intermediate_size=32, max_position=16)).train()
    ids = torch.randint(1, 50, (2, 8))
    out = encoder(ids, torch.ones_like(ids))
    out.sum().backward()
    assert out.shape == (2, 8, 16)
    assert encoder.layers[0].attention.qkv.weight.grad is not None


# ---- the fp32 GEMM kernel (issue 19) ---------------------------------------------------------------

@pytest.fixture
def gemm(monkeypatch):
    """Force the kernel choice for one test, restoring the process's own afterwards."""
    from models_core.encoder import transformer

    saved = dict(transformer._GEMM_CHOICE)

    def force(kind: str) -> None:
        transformer._GEMM_CHOICE.clear()
        monkeypatch.setenv(transformer.GEMM_ENV, kind)
        assert transformer.gemm_backend()["kernel"] == kind

    yield force
    transformer._GEMM_CHOICE.clear()
    transformer._GEMM_CHOICE.update(saved)


def test_the_onednn_kernel_gives_torchs_products_and_gradients_and_leaves_training_to_torch(gemm):
    from models_core.encoder.transformer import Linear

    torch.manual_seed(0)
    layer = Linear(384, 1536)
    x = torch.randn(3, 17, 384)
    expected = torch.nn.functional.linear(x, layer.weight, layer.bias)
    gemm("onednn")
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
    # frozen weights, gradient wanted in the input (Integrated Gradients): oneDNN both ways
    layer.requires_grad_(False)
    xg = x.clone().requires_grad_(True)
    layer(xg).pow(2).sum().backward()
    xr = x.clone().requires_grad_(True)
    torch.nn.functional.linear(xr, layer.weight, layer.bias).pow(2).sum().backward()
    torch.testing.assert_close(xg.grad, xr.grad, rtol=1e-4, atol=1e-4)
    # trained weights: torch's own kernel, so the weights get their gradients
    layer.requires_grad_(True)
    layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.bias.grad is not None
    gemm("default")
    with torch.inference_mode():
        assert torch.equal(layer(x), expected)


def test_the_kernel_choice_is_timed_once_and_a_bad_setting_is_refused(gemm, monkeypatch):
    from models_core.encoder import transformer

    gemm("default")
    transformer._GEMM_CHOICE.clear()
    monkeypatch.setenv(transformer.GEMM_ENV, "auto")
    choice = transformer.gemm_backend()
    assert choice["kernel"] in ("onednn", "default") and choice["reason"].startswith(("timed", "oneDNN"))
    if choice["reason"].startswith("timed"):
        assert (choice["kernel"] == "onednn") == (choice["onednn_ms"] * 1.15 < choice["default_ms"])
    assert transformer.gemm_backend() == choice  # decided once per process
    transformer._GEMM_CHOICE.clear()
    monkeypatch.setenv(transformer.GEMM_ENV, "fastest")
    with pytest.raises(ValueError, match="MODELS_CORE_GEMM"):
        transformer.gemm_backend()


def test_the_encoder_equals_hf_with_either_kernel(gemm, minilm_encoder, minilm_tokenizer, hf_minilm):
    batch = pad_encodings(encode_texts(minilm_tokenizer, TEXTS), pad_id=0)
    with torch.inference_mode():
        theirs = hf_minilm(**batch).last_hidden_state
        for kind in ("onednn", "default"):
            gemm(kind)
            ours = minilm_encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            assert _non_padded_max_diff(ours, theirs, batch["attention_mask"]) < 1e-5, kind
