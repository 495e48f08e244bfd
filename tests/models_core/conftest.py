"""Shared fixtures for the models_core tests: the bundled MiniLM, a tiny random BERT checkpoint, data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.encoder.pretrained import default_encoder_dir
from models_core.encoder.tokenization import load_tokenizer
from models_core.encoder.transformer import load_pretrained_encoder


@pytest.fixture(autouse=True)
def _artifacts_in_tmp():
    """models_core tests need no Django: override tests/conftest.py's settings-based autouse fixture."""


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return default_encoder_dir()


@pytest.fixture(scope="session")
def minilm_encoder(minilm_dir):
    return load_pretrained_encoder(minilm_dir)


@pytest.fixture(scope="session")
def minilm_tokenizer(minilm_dir):
    return load_tokenizer(minilm_dir, max_length=128)


@pytest.fixture(scope="session")
def hf_minilm(minilm_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.BertModel.from_pretrained(str(minilm_dir), attn_implementation="sdpa").eval()


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, minilm_dir) -> Path:
    """A small random BERT written by Hugging Face `save_pretrained` (safetensors), with MiniLM's tokenizer.

    Fast to run, and a second, independently written checkpoint for the name mapping.
    """
    transformers = pytest.importorskip("transformers")
    directory = tmp_path_factory.mktemp("tiny_bert")
    config = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(1234)
    transformers.BertModel(config).save_pretrained(str(directory), safe_serialization=True)
    shutil.copy(minilm_dir / "tokenizer.json", directory / "tokenizer.json")
    return directory


def _xy(rows):
    return [r["text"] for r in rows], [int(r["hired"] == "yes") for r in rows]


@pytest.fixture(scope="session")
def hiring_small():
    """(texts, labels) of 240 synthetic applicants."""
    return _xy(hiring_rows(SyntheticSpec(n_rows=240)))


@pytest.fixture(scope="session")
def hiring_600():
    return _xy(hiring_rows(SyntheticSpec(n_rows=600)))
