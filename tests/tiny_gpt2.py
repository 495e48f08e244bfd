"""A tiny random GPT-2 built with Hugging Face transformers, saved as safetensors with a byte-level BPE
tokenizer, and zipped: what an engineer uploads (tests of models_core.decoder and of the registry's import)."""

from __future__ import annotations

import zipfile
from pathlib import Path


def zip_folder(folder: Path, zip_path: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"tiny-gpt2/{path.name}")
        for name, data in (extra or {}).items():
            archive.writestr(f"tiny-gpt2/{name}", data)
    return zip_path


def build_tiny_gpt2(root: Path) -> dict:
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = root / "tiny-gpt2"
    folder.mkdir(parents=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(["the model wrote a note about the patient and the invoice"] * 10,
                                  trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    eos = tokenizer.token_to_id("<|endoftext|>")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        config = transformers.GPT2Config(vocab_size=tokenizer.get_vocab_size(), n_positions=64, n_embd=32,
                                         n_layer=2, n_head=4, bos_token_id=eos, eos_token_id=eos)
        reference = transformers.GPT2LMHeadModel(config).eval()
    reference.save_pretrained(folder, safe_serialization=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return {"folder": folder, "reference": reference, "zip": zip_folder(folder, root / "tiny-gpt2.zip"),
            "pickle_zip": zip_folder(folder, root / "pickled.zip", {"pytorch_model.bin": b"\x80\x04."})}
