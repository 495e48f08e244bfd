import torch

from models_core.encoder.classifier import TextClassifier
from models_core.encoder.tokenization import encode_texts, pad_encodings

TEXTS = ["Teacher with 3 years of experience.", "Data analyst with 11 years of experience. He scaled a data warehouse.",
         "Designer."]


def _batch(tokenizer):
    return pad_encodings(encode_texts(tokenizer, TEXTS), 0)


def test_forward_equals_forward_from_embeddings_of_embed(minilm_encoder, minilm_tokenizer):
    torch.manual_seed(0)
    model = TextClassifier(minilm_encoder, num_labels=3).eval()
    b = _batch(minilm_tokenizer)
    assert b["attention_mask"].min() == 0  # padded batch
    with torch.no_grad():
        direct = model(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        split = model.forward_from_embeddings(model.embed(b["input_ids"], b["token_type_ids"]), b["attention_mask"])
    assert direct.shape == (3, 3)
    assert torch.equal(direct, split)


def test_embed_is_word_plus_token_type_before_positions(minilm_encoder, minilm_tokenizer):
    model = TextClassifier(minilm_encoder, num_labels=2).eval()
    ids = _batch(minilm_tokenizer)["input_ids"]
    emb = minilm_encoder.embeddings
    expected = emb.word.weight[ids] + emb.token_type.weight[0]
    assert torch.equal(model.embed(ids), expected)
    # Same token at two positions: identical vectors (no position embedding yet).
    same = torch.tensor([[101, 2000, 2000, 102]])
    out = model.embed(same)
    assert torch.equal(out[0, 1], out[0, 2])


def test_gradients_flow_to_embeddings_for_attribution(minilm_encoder, minilm_tokenizer):
    model = TextClassifier(minilm_encoder, num_labels=2).eval()
    b = _batch(minilm_tokenizer)
    embeds = model.embed(b["input_ids"]).detach().requires_grad_(True)
    model.forward_from_embeddings(embeds, b["attention_mask"])[:, 1].sum().backward()
    real = b["attention_mask"].bool()
    assert embeds.grad[real].abs().sum() > 0
    assert embeds.grad[~real].abs().sum() == 0  # padded positions cannot influence the output


def test_mean_pooling_ignores_padding(minilm_encoder, minilm_tokenizer):
    model = TextClassifier(minilm_encoder, num_labels=2).eval()
    b = _batch(minilm_tokenizer)
    scrambled = b["input_ids"].clone()
    scrambled[b["attention_mask"] == 0] = 1996  # garbage in the padded slots
    with torch.no_grad():
        assert torch.allclose(model(b["input_ids"], b["attention_mask"]), model(scrambled, b["attention_mask"]),
                              atol=1e-6)
        alone = model(*[pad_encodings(encode_texts(minilm_tokenizer, TEXTS[2:]), 0)[k]
                        for k in ("input_ids", "attention_mask")])
        assert torch.allclose(alone[0], model(b["input_ids"], b["attention_mask"])[2], atol=1e-5)
