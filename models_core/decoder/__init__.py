"""The causal (decoder-only) Transformer language model: configuration, modules sharing the encoder's
building blocks (multi-head self-attention, now with a causal mask; feed-forward; layer norm), a tied output
head, a byte-level tokenizer, training from scratch (optionally DP-SGD), perplexity, seeded generation
(greedy, top-k, top-p), safetensors artifacts and the import of Hugging Face GPT-2-family folders.

Takes texts (str) and weight/tokenizer files; returns torch modules, `DecoderBundle`s, numbers and texts.
Imports torch, tokenizers, safetensors (and lazily opacus), and from models_core `encoder` (the blocks and
the artifact digest), `training.privacy` (DP randomness and accounting), `compute` and `errors`; never
fairness, explain, data or anything above models_core.
Inside, imports point one way: training -> artifacts | gpt2 -> generation -> bundle -> model | tokenization
-> config.
"""
