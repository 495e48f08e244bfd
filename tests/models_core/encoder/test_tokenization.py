import pytest

from models_core.encoder.tokenization import encode_texts, load_tokenizer, pad_encodings, train_wordpiece
from models_core.errors import InputError

CORPUS = [f"applicant {i} has {i % 7} years of experience in {w} and {v}" for i, (w, v) in
          enumerate((w, v) for w in ["python", "sql", "nursing", "teaching", "accounting"]
                    for v in ["leadership", "excel", "negotiation", "forecasting"])] * 3


def test_minilm_tokenizer_truncates_and_does_not_pad(minilm_dir):
    tok = load_tokenizer(minilm_dir, max_length=16)
    short, long = encode_texts(tok, ["hello world", "word " * 100])
    assert short.ids == [101, 7592, 2088, 102]
    assert len(long.ids) == 16 and long.ids[-1] == 102


def test_pad_encodings_pads_right_with_mask(minilm_tokenizer):
    batch = pad_encodings(encode_texts(minilm_tokenizer, ["hello world", "a b c d e f"]), pad_id=0)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0, 0, 0], [1] * 8]
    assert batch["input_ids"][0, 4:].tolist() == [0, 0, 0, 0]


def test_train_wordpiece_is_deterministic_and_order_independent():
    a = train_wordpiece(CORPUS, vocab_size=200, seed=3)
    b = train_wordpiece(list(reversed(CORPUS)), vocab_size=200, seed=3)
    assert a.to_str() == b.to_str()
    assert a.token_to_id("[PAD]") == 0
    enc = a.encode("applicant has python")
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert "[UNK]" not in enc.tokens


def test_bad_inputs_raise_input_error(minilm_tokenizer):
    with pytest.raises(InputError):
        encode_texts(minilm_tokenizer, "not a list")
    with pytest.raises(InputError):
        encode_texts(minilm_tokenizer, ["ok", None])
    with pytest.raises(InputError):
        train_wordpiece([], vocab_size=100)
