#!/usr/bin/env python3
"""gguf_to_model_dir.py: the weights a cpurich GGUF file stands for, as a model dir.

Reads a file written by `cpurich export` (plain Python, no numpy), decodes every
tensor (f32, f16, q8_0, q4_0, q4_1 exactly as ggml's dequantize_row_* do; each
is exact in f32), maps the llama.cpp names back to Hugging Face GPT-2 names,
transposes the linear weights back to Conv1D's (in, out) and writes
OUT/model.safetensors. config.json and tokenizer.json are copied from the
original model directory. `cpurich sample` on OUT then runs the same weights
llama.cpp runs from the file: scripts/llamacpp_check.sh uses it to compare
the 4-bit files fairly.

Usage: gguf_to_model_dir.py FILE.gguf ORIGINAL_MODEL_DIR OUT_DIR
"""
import array
import json
import os
import shutil
import struct
import sys

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            return [self.value(et) for _ in range(n)]
        return self.take(SCALAR[t])


def f16(b, i):
    return struct.unpack_from("<e", b, i)[0]


def dequantize(t, raw, n):
    if t == 0:
        return array.array("f", raw[:4 * n])
    if t == 1:
        return array.array("f", struct.unpack_from("<%de" % n, raw))
    out = array.array("f", bytes(4 * n))
    size = {8: 34, 2: 18, 3: 20}[t]
    for blk in range(n // 32):
        b = raw[blk * size:(blk + 1) * size]
        y = out
        o = blk * 32
        if t == 8:  # q8_0: d, 32 x int8
            d = f16(b, 0)
            q = struct.unpack_from("<32b", b, 2)
            for j in range(32):
                y[o + j] = d * q[j]
        elif t == 2:  # q4_0: d, nibbles (element j low, j + 16 high), x = d (q - 8)
            d = f16(b, 0)
            for j in range(16):
                y[o + j] = d * ((b[2 + j] & 15) - 8)
                y[o + j + 16] = d * ((b[2 + j] >> 4) - 8)
        else:  # q4_1: d, m, nibbles, x = d q + m
            d, m = f16(b, 0), f16(b, 2)
            for j in range(16):
                y[o + j] = (b[4 + j] & 15) * d + m
                y[o + j + 16] = (b[4 + j] >> 4) * d + m
    return out


def hf_name(name):
    top = {"token_embd.weight": "wte.weight", "position_embd.weight": "wpe.weight",
           "output_norm.weight": "ln_f.weight", "output_norm.bias": "ln_f.bias"}
    if name in top:
        return top[name]
    blk, layer, module, leaf = name.split(".")
    assert blk == "blk", name
    ours = {"attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj",
            "ffn_norm": "ln_2", "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj"}[module]
    return "h.%s.%s.%s" % (layer, ours, leaf)


def main(path, model_dir, out_dir):
    data = open(path, "rb").read()
    r = Reader(data)
    assert r.take("<I") == 0x46554747 and r.take("<I") == 3
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    kv = {}
    for _ in range(n_kv):
        k = r.string()
        kv[k] = r.value(r.take("<I"))
    align = kv.get("general.alignment", 32)
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        ne = [r.take("<q") for _ in range(r.take("<I"))]
        infos.append((name, ne, r.take("<I"), r.take("<Q")))
    start = (r.pos + align - 1) // align * align
    tensors = {}
    for name, ne, t, off in infos:
        n = 1
        for d in ne:
            n *= d
        w = dequantize(t, data[start + off:], n)
        shape = list(reversed(ne))  # row-major (rows, cols)
        hf = hf_name(name)
        if hf.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            rows, cols = shape
            w = array.array("f", (w[o * cols + i] for i in range(cols) for o in range(rows)))
            shape = [cols, rows]
        tensors[hf] = (shape, w)
    os.makedirs(out_dir, exist_ok=True)
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        shape, w = tensors[name]
        b = w.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    for extra in ("config.json", "tokenizer.json"):
        shutil.copy(os.path.join(model_dir, extra), out_dir)


if __name__ == "__main__":
    main(*sys.argv[1:4])
