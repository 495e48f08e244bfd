"""The encoder's own view of words and sentences, for the adversarial search's candidates and constraint.

`EncoderSpace(bundle)` holds the model's input word-embedding matrix restricted to whole-word vocabulary
entries (letters only, no "##" pieces or special tokens) and answers: the nearest words of a word
(cosine similarity, at least a threshold) and the cosine similarity of texts to an original text in the
model's pooled sentence space (what its head sees).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch


class EncoderSpace:
    def __init__(self, bundle, *, n_candidates: int = 8, min_similarity: float = 0.5, batch_size: int = 64):
        self.bundle, self.n, self.min_similarity, self.batch_size = bundle, n_candidates, min_similarity, batch_size
        vocab = bundle.tokenizer.get_vocab()
        entries = sorted((token, i) for token, i in vocab.items() if token.isalpha() and len(token) > 1)
        self.words = [t for t, _ in entries]
        self.index = {t: k for k, t in enumerate(self.words)}
        weight = bundle.model.encoder.embeddings.word.weight.detach().to("cpu", torch.float32)
        vectors = weight[torch.tensor([i for _, i in entries], dtype=torch.long)]
        self.vectors = torch.nn.functional.normalize(vectors, dim=1)
        self.sentence_evaluations = 0
        self._cache: dict[str, list[tuple[str, float]]] = {}

    def neighbours(self, word: str) -> list[tuple[str, float]]:
        """Up to `n_candidates` (word, cosine) nearest to `word` with cosine ≥ min_similarity; none when the
        word is not one whole vocabulary entry."""
        key = word.lower() if word.lower() in self.index else word
        if key not in self.index:
            return []
        if key not in self._cache:
            sims = self.vectors @ self.vectors[self.index[key]]
            sims[self.index[key]] = -1.0
            top = torch.topk(sims, min(self.n, sims.numel() - 1))
            self._cache[key] = [(self.words[int(j)], float(s)) for s, j in zip(top.values, top.indices)
                                if float(s) >= self.min_similarity]
        return self._cache[key]

    @torch.inference_mode()
    def _pooled(self, texts: Sequence[str]) -> torch.Tensor:
        model = self.bundle.model
        was_training = model.training
        model.eval()
        try:
            out = []
            for start in range(0, len(texts), self.batch_size):
                inputs = self.bundle.encode(list(texts[start:start + self.batch_size]))
                out.append(model.pooled(inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"]))
            return torch.nn.functional.normalize(torch.cat(out).float(), dim=1)
        finally:
            model.train(was_training)

    def similarity(self, original: str, texts: list[str]) -> np.ndarray:
        """Cosine similarity of each text to `original` in the model's pooled sentence space."""
        self.sentence_evaluations += len(texts) + 1
        vectors = self._pooled([original, *texts])
        return (vectors[1:] @ vectors[0]).numpy().astype(np.float64)


def synonym_candidates(synonyms: Mapping[str, Sequence[str]]):
    """Candidates from a configured synonym list: {word: [replacements]} (case-insensitive keys)."""
    table = {str(k).lower(): [str(v) for v in vs] for k, vs in synonyms.items()}
    return lambda word: [(w, 1.0) for w in table.get(word.lower(), [])]
