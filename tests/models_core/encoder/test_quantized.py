"""models_core.encoder.quantized: cheaper copies scoring perturbations, padding-free batches, agreement with fp32."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.encoder.bundle import bundle_from_pretrained
from models_core.encoder.inference import exact_length_buckets, predict_dataset
from models_core.encoder.transformer import EncoderLayer, attention_mask_4d
from models_core.encoder.quantized import BF16EncoderLayer, cheap_copy, cheap_kinds, perturbation_scorer, probe_batch

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def bundle(minilm_dir):
    return bundle_from_pretrained(minilm_dir, num_labels=2, label_names=["no", "yes"], seed=3)


@pytest.fixture(scope="module")
def texts():
    return [r["text"] for r in hiring_rows(SyntheticSpec(n_rows=12, seed=4))]


def test_padding_free_batches_hold_one_length_each_and_every_text_once():
    lengths = [5, 9, 5, 12, 9, 9, 5, 30, 12] * 7
    batches = exact_length_buckets(lengths, max_tokens=40)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for batch in batches:
        assert len({lengths[i] for i in batch}) == 1
        assert len(batch) * lengths[batch[0]] <= 40 or len(batch) == 1  # one text longer than the budget: alone


def test_padding_free_scoring_equals_the_padded_predict_path(bundle, texts):
    strings, _ = probe_batch(bundle.tokenizer, texts[:3], masks_per_text=20)
    padded = predict_dataset(bundle, strings).probabilities
    free = predict_dataset(bundle, strings, padding_free=True).probabilities
    np.testing.assert_allclose(free, padded, atol=1e-5)


def test_a_cheap_copy_leaves_the_fp32_model_untouched(bundle):
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    for kind in ("bf16", "int8"):
        cheap = cheap_copy(bundle.model, kind)
        assert cheap is not bundle.model
    after = bundle.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.dtype == torch.float32 for p in bundle.model.parameters())


def test_the_bf16_copy_is_mixed_precision_bf16_layers_with_fp32_norms_residuals_and_head(bundle, texts):
    """Casting the whole model to bf16 moved the demo model's probabilities by up to 0.026 (over the threshold);
    only the layers' products and attention are bf16: LayerNorm, embeddings, head and the residual stream stay
    fp32 (the output and down projections return fp32 before their bias and the residual are added)."""
    cheap = cheap_copy(bundle.model, "bf16")
    assert not any(isinstance(m, (torch.nn.Linear, EncoderLayer)) for m in cheap.encoder.modules())
    layers = [m for m in cheap.encoder.modules() if isinstance(m, BF16EncoderLayer)]
    assert len(layers) == bundle.model.encoder.config.num_layers
    for layer in layers:
        assert all(getattr(layer, f"{n}_weight").dtype == torch.bfloat16 for n in ("qkv", "out", "up", "down"))
        assert layer.out_bias.dtype == layer.down_bias.dtype == torch.float32  # added to the fp32 residual
    others = [p for m in cheap.modules() if not isinstance(m, BF16EncoderLayer) for p in m.parameters(recurse=False)]
    assert others and all(p.dtype == torch.float32 for p in others)  # LayerNorm, embeddings, head
    ids = torch.tensor([bundle.tokenizer.encode(texts[0]).ids])
    with torch.inference_mode():
        logits = cheap(ids)
        hidden = bundle.model.encoder.embeddings(bundle.model.embed(ids))
        fused = layers[0](hidden, None)
    assert getattr(logits, "logits", logits).dtype == torch.float32 and fused.dtype == torch.float32


def _layer_by_hand(layer: EncoderLayer, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The bf16 recipe written out with plain torch ops on the fp32 layer's own weights (no fused kernel)."""
    bf = torch.bfloat16
    a, f = layer.attention, layer.feed_forward
    batch, seq_len, hidden = x.shape
    qkv = torch.nn.functional.linear(x.to(bf), a.qkv.weight.to(bf), a.qkv.bias.to(bf))
    q, k, v = qkv.view(batch, seq_len, 3, a.num_heads, a.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    context = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    context = context.transpose(1, 2).reshape(batch, seq_len, hidden)
    x = layer.attention_norm(torch.nn.functional.linear(context, a.out.weight.to(bf)).float() + a.out.bias + x)
    inner = torch.nn.functional.gelu(torch.nn.functional.linear(x.to(bf), f.up.weight.to(bf), f.up.bias.to(bf)))
    return layer.output_norm(torch.nn.functional.linear(inner, f.down.weight.to(bf)).float() + f.down.bias + x)


def test_the_bf16_layer_computes_the_written_out_recipe_and_stays_near_fp32_with_and_without_padding(bundle, texts):
    model = copy.deepcopy(bundle.model).eval()  # no dropout, whatever mode the shared fixture was left in
    layer = model.encoder.layers[0]
    fused = BF16EncoderLayer(layer)
    ids = [torch.tensor(bundle.tokenizer.encode(t).ids) for t in texts[:3]]
    width = max(len(i) for i in ids)
    padded = torch.zeros(len(ids), width, dtype=torch.long)
    attention = torch.zeros(len(ids), width, dtype=torch.long)
    for row, i in enumerate(ids):
        padded[row, :len(i)], attention[row, :len(i)] = i, 1
    with torch.inference_mode():
        x = model.encoder.embeddings(model.embed(padded))
        for mask in (None, attention_mask_4d(attention)):
            ours, by_hand, exact = fused(x, mask), _layer_by_hand(layer, x, mask), layer(x, mask)
            real = attention.bool() if mask is not None else torch.ones_like(attention, dtype=torch.bool)
            # the fused up-projection + GELU rounds once where the written-out recipe rounds twice
            assert (ours - by_hand)[real].abs().max() < 0.05
            assert (ours - exact)[real].abs().max() < 0.25  # bf16 against fp32, on LayerNorm-scaled states
            assert (ours - exact)[real].abs().mean() < 0.02
            native, fused.fused_gelu = fused.fused_gelu, False  # a CPU without native bf16: the recipe itself
            assert torch.allclose(fused(x, mask)[real], by_hand[real], atol=1e-5)
            fused.fused_gelu = native


@pytest.mark.parametrize("kind", ["bf16", "int8"])
def test_each_copy_is_measured_against_fp32_and_used_only_within_the_thresholds(bundle, texts, kind):
    scorer, note = perturbation_scorer(bundle, texts, kind=kind, max_abs_dp=1.0, min_pearson=-1.0, device=CPU)
    assert note["scoring"] == kind and note["agreement"]["probe_strings"] > 100
    assert scorer.model is bundle.model  # Integrated Gradients keeps the fp32 model and its gradients
    strings, _ = probe_batch(bundle.tokenizer, texts[:4], seed=0)
    reference = predict_dataset(bundle, strings).probabilities
    measured = np.abs(scorer.predict_proba(strings) - reference).max()
    assert measured == pytest.approx(note["agreement"]["max_abs_dp"], abs=1e-6)  # the note states what it did
    json.dumps(note)  # stored in the explanation's method note as it is


def test_bf16_on_minilm_agrees_within_the_default_thresholds(bundle, texts):
    if "bf16" not in cheap_kinds(CPU):
        pytest.skip("this CPU runs no bf16 fast")
    _, note = perturbation_scorer(bundle, texts, kind="bf16", device=CPU)
    assert note["scoring"] == "bf16", note
    assert note["agreement"]["max_abs_dp"] <= 0.02 and note["agreement"]["attribution_pearson_min"] >= 0.99


def test_a_copy_below_the_thresholds_is_skipped_and_the_note_says_why(bundle, texts):
    """A careless operator (or a model a copy cannot follow): the scorer falls back to fp32, and says so."""
    scorer, note = perturbation_scorer(bundle, texts, kind="int8", max_abs_dp=0.0, device=CPU)
    assert note["scoring"] == "fp32" and note["skipped"][0]["scoring"] == "int8"
    assert "below the thresholds" in note["reason"]
    strings, _ = probe_batch(bundle.tokenizer, texts[:2], masks_per_text=8)
    np.testing.assert_allclose(scorer.predict_proba(strings), predict_dataset(bundle, strings).probabilities,
                               atol=1e-5)


def test_fp32_requested_uses_no_copy(bundle, texts):
    _, note = perturbation_scorer(bundle, texts, kind=None)
    assert note["scoring"] == "fp32" and note["reason"] == "fp32 requested" and note["skipped"] == []


def test_bf16_is_offered_only_where_the_cpu_multiplies_it_natively(bundle, texts):
    """oneDNN says bf16 is supported on AVX-512 CPUs that only emulate it (~4x slower than fp32 there): "auto"
    must not pick it on such a CPU, and the method note says why it was not tried."""
    native = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    assert ("bf16" in cheap_kinds(CPU)) == native
    _, note = perturbation_scorer(bundle, texts, kind="auto", device=CPU)
    if native:
        assert note["not_offered"] == {}
    else:
        assert note["scoring"] != "bf16" and "no native bf16" in note["not_offered"]["bf16"]
        assert all(s["scoring"] != "bf16" for s in note["skipped"])
