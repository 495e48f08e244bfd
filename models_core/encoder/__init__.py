"""The Transformer text classifier: configuration, encoder modules, classifier, tokenization, pretrained
weights, the bundle that carries them, batched inference and safetensors artifacts.

Takes texts (str) and weight/tokenizer files; returns torch modules, `ClassifierBundle`s, numpy
probabilities and artifact digests. Imports torch, tokenizers and safetensors, and from models_core only
`errors` and `compute`; never fairness, explain, data, training or anything above models_core.
Inside, imports point one way: artifacts -> bundle -> inference -> classifier -> transformer -> config.
"""
