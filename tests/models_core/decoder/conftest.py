"""The tiny random GPT-2 of tests/tiny_gpt2.py, built once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    pytest.importorskip("transformers")
    from tests.tiny_gpt2 import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("gpt2"))
