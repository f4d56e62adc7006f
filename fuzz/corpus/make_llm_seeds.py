#!/usr/bin/env python3
"""Writes the seeds of fuzz/corpus/fuzz_gguf and fuzz/corpus/fuzz_safetensors (see README.md).

Tiny llama2.c models with deterministic pseudo-random weights (and, for one, a 259-token
tokenizer.bin) are written to a temporary folder, then `seedchip convert` writes them as GGUF
and as Hugging Face checkpoints. A safetensors seed is config.json, a NUL byte, then
model.safetensors: the input layout of fuzz/fuzz_safetensors.cpp.

Usage: fuzz/corpus/make_llm_seeds.py [SEEDCHIP_BINARY]   (default build/tools/seedchip)
"""
import os
import random
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDCHIP = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/tools/seedchip")
CORPUS = os.path.join(ROOT, "fuzz/corpus")


def llama2c(path, dim, hidden, layers, heads, kv_heads, vocab, seq_len, shared):
    """A llama2.c checkpoint (legacy header); a negative vocab_size gives it its own classifier."""
    rng = random.Random(dim * 1000 + vocab)
    kv_dim = dim // heads * kv_heads
    counts = [vocab * dim, layers * dim, layers * dim * dim, layers * kv_dim * dim,
              layers * kv_dim * dim, layers * dim * dim, layers * dim, layers * hidden * dim,
              layers * dim * hidden, layers * hidden * dim, dim,
              2 * seq_len * (dim // heads) // 2]  # freq_cis_real and _imag (unused)
    if not shared:
        counts.append(vocab * dim)
    n = sum(counts)
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads,
                            vocab if shared else -vocab, seq_len))
        f.write(struct.pack("<%df" % n, *(rng.uniform(-1, 1) for _ in range(n))))


def tokenizer_bin(path):
    """259 tokens: <unk>, <s>, </s> and the 256 byte tokens llama2.c's byte fallback needs."""
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % b for b in range(256)]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for i, p in enumerate(pieces):
            f.write(struct.pack("<fi", -float(i), len(p)) + p)


def convert(model, out, to, dtype, tokenizer=None):
    cmd = [SEEDCHIP, "convert", "--model", model, "-o", out, "--to", to, "--type", dtype]
    if tokenizer:
        cmd += ["--tokenizer", tokenizer]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tiny = os.path.join(tmp, "tiny.bin")  # dim 4, 2 heads, 1 KV head, own classifier
        llama2c(tiny, dim=4, hidden=8, layers=1, heads=2, kv_heads=1, vocab=8, seq_len=16,
                shared=False)
        tied = os.path.join(tmp, "tied.bin")  # the same shape, classifier shared
        llama2c(tied, dim=4, hidden=8, layers=1, heads=2, kv_heads=1, vocab=8, seq_len=16,
                shared=True)
        # dim 32 so that Q8_0 / Q4_0 rows are whole 32-element blocks; hidden 1 leaves
        # ffn_down (rows of 1) F16, and the norms stay F32: every GGUF tensor type in one file.
        quant = os.path.join(tmp, "quant.bin")
        llama2c(quant, dim=32, hidden=1, layers=1, heads=16, kv_heads=1, vocab=1, seq_len=8,
                shared=True)
        vocab = os.path.join(tmp, "vocab.bin")  # the smallest model that can embed a vocabulary
        llama2c(vocab, dim=2, hidden=2, layers=1, heads=1, kv_heads=1, vocab=259, seq_len=8,
                shared=True)
        tok = os.path.join(tmp, "tok259.bin")
        tokenizer_bin(tok)

        gguf = os.path.join(CORPUS, "fuzz_gguf")
        os.makedirs(gguf, exist_ok=True)
        convert(tiny, os.path.join(gguf, "tiny_f32.gguf"), "gguf", "f32")
        convert(tied, os.path.join(gguf, "tiny_tied_bf16.gguf"), "gguf", "bf16")
        convert(quant, os.path.join(gguf, "quant_q8_0.gguf"), "gguf", "q8_0")
        convert(quant, os.path.join(gguf, "quant_q4_0.gguf"), "gguf", "q4_0")
        convert(vocab, os.path.join(gguf, "vocab_f16.gguf"), "gguf", "f16", tok)

        st = os.path.join(CORPUS, "fuzz_safetensors")
        os.makedirs(st, exist_ok=True)
        for model, dtype, name in [(tiny, "f32", "tiny_f32"), (tiny, "f16", "tiny_f16"),
                                   (tied, "bf16", "tiny_tied_bf16")]:
            out = os.path.join(tmp, name)
            convert(model, out, "safetensors", dtype)
            with open(os.path.join(out, "config.json"), "rb") as f:
                config = f.read()
            with open(os.path.join(out, "model.safetensors"), "rb") as f:
                tensors = f.read()
            with open(os.path.join(st, name + ".bin"), "wb") as f:
                f.write(config + b"\0" + tensors)


if __name__ == "__main__":
    main()
