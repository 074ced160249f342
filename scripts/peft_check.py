#!/usr/bin/python3
# peft_check.py: an independent check of a cpurich LoRA adapter in PEFT's layout.
#
# It reads the base model directory (config.json + model.safetensors) and the
# adapter directory (adapter_config.json + adapter_model.safetensors) with plain
# PyTorch, applies each adapter as PEFT's LoRA layer does for GPT-2's Conv1D
# (fan_in_fan_out = true, weights stored (in, out)):
#     y = x W + b + scale * (x A^T) B^T,   A (r, in), B (out, r),
#     scale = lora_alpha / r   (lora_alpha / sqrt(r) with use_rslora),
# and prints the mean next-token loss over token ids with the windows of
# `cpurich eval` (window w is ids[w*b .. w*b+b], neighbours share one id), so
#     cpurich eval --model M --adapter A --ids IDS --json
# and this script should agree to about 1e-5 (float32 sums in another order).
# Not a test dependency: it needs Debian's python3-torch.
#
# usage: /usr/bin/python3 scripts/peft_check.py MODEL_DIR ADAPTER_DIR IDS_FILE [--block B]
import argparse, json, math, os, struct

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, 'rb') as f:
        header = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))
        raw = f.read()
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        assert v['dtype'] == 'F32', f'{k}: only F32 tensors are supported here'
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(raw[a:b], dtype=np.float32).reshape(v['shape']).copy())
    return out


def lora_deltas(adapter_dir):
    cfg = json.load(open(os.path.join(adapter_dir, 'adapter_config.json')))
    assert cfg['peft_type'] == 'LORA' and cfg.get('fan_in_fan_out', False), 'expects GPT-2 Conv1D LoRA'
    r, alpha = cfg['r'], cfg['lora_alpha']
    scale = alpha / math.sqrt(r) if cfg.get('use_rslora', False) else alpha / r
    t = load_safetensors(os.path.join(adapter_dir, 'adapter_model.safetensors'))
    prefix = 'base_model.model.transformer.'
    deltas = {}
    for name, a in t.items():
        if not name.endswith('.lora_A.weight'):
            continue
        module = name[len(prefix):-len('.lora_A.weight')]
        b = t[name.replace('.lora_A.', '.lora_B.')]
        deltas[module] = (a, b, scale)  # A (r, in), B (out, r)
    return deltas


def forward(P, deltas, cfg, ids):  # ids (T,) -> logits (T, V)
    C, H = cfg['n_embd'], cfg['n_head']
    eps = cfg.get('layer_norm_epsilon', 1e-5)
    T = ids.shape[0]

    def ln(h, p): return F.layer_norm(h, (C,), P[p + '.weight'], P.get(p + '.bias'), eps)

    def lin(h, p):
        y = h @ P[p + '.weight']
        if p + '.bias' in P:
            y = y + P[p + '.bias']
        if p in deltas:  # PEFT's LoRA layer: base output + scale * B(A(x))
            a, b, scale = deltas[p]
            y = y + scale * ((h @ a.t()) @ b.t())
        return y

    h = P['wte.weight'][ids] + P['wpe.weight'][:T]
    for l in range(cfg['n_layer']):
        p = f'h.{l}.'
        q, k, v = lin(ln(h, p + 'ln_1'), p + 'attn.c_attn').split(C, dim=1)
        q, k, v = [t.view(T, H, C // H).transpose(0, 1) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float('-inf'))
        y = (att.softmax(-1) @ v).transpose(0, 1).reshape(T, C)
        h = h + lin(y, p + 'attn.c_proj')
        h = h + lin(F.gelu(lin(ln(h, p + 'ln_2'), p + 'mlp.c_fc'), approximate='tanh'), p + 'mlp.c_proj')
    return ln(h, 'ln_f') @ P['wte.weight'].t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model'); ap.add_argument('adapter'); ap.add_argument('ids')
    ap.add_argument('--block', type=int, default=0)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, 'config.json')))
    P = load_safetensors(os.path.join(a.model, 'model.safetensors'))
    deltas = lora_deltas(a.adapter)
    ids = torch.tensor([int(t) for t in open(a.ids).read().split()], dtype=torch.int64)
    b = a.block or cfg['n_positions']
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, b):
            w = ids[start:start + b + 1]
            logits = forward(P, deltas, cfg, w[:-1])
            total += F.cross_entropy(logits.double(), w[1:], reduction='sum').item()
            count += len(w) - 1
    print(json.dumps({'loss': total / count, 'tokens': count, 'adapters': len(deltas)}))


if __name__ == '__main__':
    main()
