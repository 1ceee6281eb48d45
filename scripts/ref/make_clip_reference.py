#!/usr/bin/python3
"""make_clip_reference.py - reference data for the C CLIP text tower.

PURPOSE: build a small random CLIP text model with the OFFICIAL openai/CLIP code
(clip/model.py imported by path from the checkout given with --clip; nothing of
it is copied here), tokenize a set of texts with the OFFICIAL SimpleTokenizer
(clip/simple_tokenizer.py) on a truncated BPE vocabulary, run encode_text, and
write what tests/1110-clip-tokenizer.c and tests/1120-clip-text.c compare with:

  vocab.json, merges.txt   the truncated vocabulary in Hugging Face format
                           (vocab.json = SimpleTokenizer.encoder, merges.txt =
                           "#version: 0.2" then the first N_MERGES merges)
  model.safetensors        the model's weights under Hugging Face names
                           (text_model.*, text_projection.weight), plus a few
                           vision_model.* / logit_scale tensors the C loader must
                           ignore; float32; __metadata__ num_attention_heads
  tokens.json              {"texts": [...], "ids": [[77 ints], ...]}
                           (clip.tokenize(truncate=True) logic: SOT, encode,
                           EOT, cut to 77 with EOT last, zero padded)
  features.ref             (n_texts, proj_dim) float32 encode_text output:
                           int32 magic 20261125, int32 version 1, int32 ndim,
                           int32 dims[ndim], then float32 data in C order.

It also writes the Unicode tables of src/text/clip_unicode.c (--emit-unicode FILE),
computed from the same `regex` module the official tokenizer uses.

USAGE (system python: torch, numpy; `regex` from Debian's python3-regex):
  /usr/bin/python3 scripts/ref/make_clip_reference.py --clip /tmp/ref/clip \
      --out tests/data/clip [--emit-unicode src/text/clip_unicode.c]

ftfy is not installed: basic_clean's ftfy.fix_text is stubbed by the identity.
The reference texts are NFC, without mojibake, curly quotes or ligatures, so
fix_text would leave them unchanged anyway.
"""
import argparse
import gzip
import importlib.util
import json
import os
import struct
import sys
import tempfile
import types

import numpy as np
import torch

MAGIC = 20261125
VERSION = 1
N_MERGES = 2000
CONTEXT = 77
WIDTH, LAYERS, HEADS, PROJ = 32, 2, 4, 24
SEED = 1234

TEXTS = [
    "a photo of a cat",
    "A person waving their RIGHT hand, then jumping!",
    "It's the man's 2nd try; he'll win 1,000,000 times? We'd've LOVED it.",
    "Café crème, naïve résumé!",
    "Привет мир",
    "Καλημέρα κόσμε",
    "ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΟΦΙΑ ΣΤΟ ΣΠΙΤΙ ΤΗΣ.",
    "  multiple   spaces\tand\nnewlines  ",
    "Tom &amp; Jerry &lt;3 &#39;quoted&#39;",
    "ÀÉÎÕÜ ÇĞŞ Straße ŁÓDŹ",
    "Emoji 😀 and symbols © ™ ½ ² ³ -- #42!!",
    "",
    "x",
    "2023-10-05 12:30 v1.2.3",
    "before <|endoftext|> after",
    " ".join(["a person slowly walks forward, turns around and sits down on a chair."] * 6),
]


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_ref(path, arr):
    arr = np.ascontiguousarray(arr, dtype="<f4")
    with open(path, "wb") as f:
        f.write(struct.pack("<3i", MAGIC, VERSION, arr.ndim))
        f.write(struct.pack("<%di" % arr.ndim, *arr.shape))
        f.write(arr.tobytes())


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, float32 numpy array). Format: u64 LE header
    length, JSON header {name: {dtype, shape, data_offsets}}, raw LE data."""
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)  # align the data like the reference writer
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def hf_tensors(model):
    """OpenAI CLIP text weights -> Hugging Face CLIPModel names."""
    out = [("text_model.embeddings.token_embedding.weight", model.token_embedding.weight),
           ("text_model.embeddings.position_embedding.weight", model.positional_embedding)]
    C = model.transformer.width
    for i, blk in enumerate(model.transformer.resblocks):
        p = "text_model.encoder.layers.%d." % i
        w, b = blk.attn.in_proj_weight, blk.attn.in_proj_bias
        out += [(p + "layer_norm1.weight", blk.ln_1.weight), (p + "layer_norm1.bias", blk.ln_1.bias)]
        for j, n in enumerate("qkv"):
            out += [(p + "self_attn.%s_proj.weight" % n, w[j * C:(j + 1) * C]),
                    (p + "self_attn.%s_proj.bias" % n, b[j * C:(j + 1) * C])]
        out += [(p + "self_attn.out_proj.weight", blk.attn.out_proj.weight),
                (p + "self_attn.out_proj.bias", blk.attn.out_proj.bias),
                (p + "layer_norm2.weight", blk.ln_2.weight), (p + "layer_norm2.bias", blk.ln_2.bias),
                (p + "mlp.fc1.weight", blk.mlp.c_fc.weight), (p + "mlp.fc1.bias", blk.mlp.c_fc.bias),
                (p + "mlp.fc2.weight", blk.mlp.c_proj.weight), (p + "mlp.fc2.bias", blk.mlp.c_proj.bias)]
    out += [("text_model.final_layer_norm.weight", model.ln_final.weight),
            ("text_model.final_layer_norm.bias", model.ln_final.bias),
            ("text_projection.weight", model.text_projection.t()),
            # tensors of a full checkpoint that the text tower must ignore
            ("logit_scale", model.logit_scale.reshape(())),
            ("vision_model.embeddings.class_embedding", model.visual.class_embedding),
            ("vision_model.post_layernorm.weight", model.visual.ln_post.weight),
            ("vision_model.post_layernorm.bias", model.visual.ln_post.bias)]
    return [(n, t.detach().float().numpy()) for n, t in out]


def tokenize(tok, text):
    """clip.tokenize(text, context_length=77, truncate=True) for one text."""
    sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
    ids = [sot] + tok.encode(text) + [eot]
    if len(ids) > CONTEXT:
        ids = ids[:CONTEXT]
        ids[-1] = eot
    return ids + [0] * (CONTEXT - len(ids))


def emit_unicode(path):
    import regex

    def ranges(pat):
        rx = regex.compile(pat)
        out, start = [], None
        for cp in range(0x110000):
            v = not (0xD800 <= cp <= 0xDFFF) and rx.match(chr(cp)) is not None
            if v and start is None:
                start = cp
            if not v and start is not None:
                out.append((start, cp - 1))
                start = None
        if start is not None:
            out.append((start, 0x10FFFF))
        return out

    low = []  # (first, last, delta, step): cp in first..last by step -> cp + delta
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        lo = chr(cp).lower()
        if lo == chr(cp) or len(lo) != 1:  # U+0130 -> "i\u0307" is left alone
            continue
        d = ord(lo) - cp
        if low:
            s0, e0, d0, st = low[-1]
            if d == d0 and ((st == 0 and cp - e0 in (1, 2)) or (st and cp - e0 == st)):
                low[-1] = (s0, cp, d0, cp - e0)
                continue
        low.append((cp, cp, d, 0))

    def table(name, rows, fmt, per_line):
        s = "static const %s[] = {\n" % name
        for i in range(0, len(rows), per_line):
            s += "    " + " ".join(fmt % r for r in rows[i:i + per_line]) + "\n"
        return s + "};\n"

    src = open(path).read()
    begin = "// --- BEGIN GENERATED TABLES"
    end = "// --- END GENERATED TABLES"
    a, b = src.index(begin), src.index(end)
    gen = begin + " (scripts/ref/make_clip_reference.py --emit-unicode, regex %s,\n" % regex.__version__
    gen += "// Python %d.%d str.lower) ---\n" % sys.version_info[:2]
    gen += table("UniRange UNI_LETTER", ranges(r"\p{L}"), "{0x%X, 0x%X},", 4)
    gen += table("UniRange UNI_NUMBER", ranges(r"\p{N}"), "{0x%X, 0x%X},", 4)
    gen += table("UniRange UNI_SPACE", ranges(r"\s"), "{0x%X, 0x%X},", 4)
    gen += table("UniLower UNI_LOWER", [(s, e, d, st or 1) for s, e, d, st in low],
                 "{0x%X, 0x%X, %d, %d},", 3)
    open(path, "w").write(src[:a] + gen + src[b:])
    print("wrote tables into", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", required=True, help="openai/CLIP checkout")
    ap.add_argument("--out", required=True)
    ap.add_argument("--emit-unicode", help="rewrite the tables of this C file")
    args = ap.parse_args()
    if args.emit_unicode:
        emit_unicode(args.emit_unicode)

    sys.modules.setdefault("ftfy", types.SimpleNamespace(fix_text=lambda s: s))
    model_py = load_module("clip_model", os.path.join(args.clip, "clip", "model.py"))
    st_py = load_module("clip_simple_tokenizer", os.path.join(args.clip, "clip", "simple_tokenizer.py"))
    os.makedirs(args.out, exist_ok=True)

    # Truncated BPE: the version line and the first N_MERGES merges, no trailing
    # newline (SimpleTokenizer would read an empty last line as a merge).
    with gzip.open(os.path.join(args.clip, "clip", "bpe_simple_vocab_16e6.txt.gz")) as f:
        lines = f.read().decode("utf-8").split("\n")[:1 + N_MERGES]
    tmp = tempfile.mkdtemp()
    bpe_gz = os.path.join(tmp, "bpe_truncated.txt.gz")
    with gzip.open(bpe_gz, "wb") as f:
        f.write("\n".join(lines).encode("utf-8"))
    tok = st_py.SimpleTokenizer(bpe_path=bpe_gz)
    with open(os.path.join(args.out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(tok.encoder, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(args.out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(lines[1:]) + "\n")

    ids = [tokenize(tok, t) for t in TEXTS]
    with open(os.path.join(args.out, "tokens.json"), "w", encoding="utf-8") as f:
        f.write('{"texts": [\n%s\n],\n"ids": [\n%s\n]}\n' % (
            ",\n".join(json.dumps(t, ensure_ascii=False) for t in TEXTS),
            ",\n".join(json.dumps(i) for i in ids)))

    # The model: official CLIP with a tiny vision tower; its own initialisation,
    # then LayerNorms and biases randomised so that every term is exercised.
    torch.manual_seed(SEED)
    model = model_py.CLIP(embed_dim=PROJ, image_resolution=32, vision_layers=1, vision_width=64,
                          vision_patch_size=16, context_length=CONTEXT, vocab_size=len(tok.encoder),
                          transformer_width=WIDTH, transformer_heads=HEADS,
                          transformer_layers=LAYERS).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("visual"):
                continue
            if "ln" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
        model.text_projection.copy_(torch.randn_like(model.text_projection) * WIDTH ** -0.5)
        feats = model.encode_text(torch.tensor(ids, dtype=torch.long)).float().numpy()
    write_safetensors(os.path.join(args.out, "model.safetensors"), hf_tensors(model),
                      {"format": "pt", "num_attention_heads": str(HEADS)})
    write_ref(os.path.join(args.out, "features.ref"), feats)
    print("texts %d, vocab %d, features %s, |f| mean %.3f" %
          (len(TEXTS), len(tok.encoder), feats.shape, float(np.abs(feats).mean())))


if __name__ == "__main__":
    main()
