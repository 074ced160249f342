#!/usr/bin/python3
# pytorch_twin.py: the `tiny` pretraining run of cpurich, written again in PyTorch.
#
# With --init DIR (a model from `cpurich init --vocab 65 --seed S`) the twin starts
# from our weights and re-implements our Rng, so it sees the same batches in the
# same order as `cpurich pretrain --config tiny --seed S`: the two runs should
# print the same losses. With --torch-rng it draws weights and batches from
# torch's own generator instead, as nanoGPT does.
#
# usage: /usr/bin/python3 scripts/pytorch_twin.py CORPUS SEED (--init DIR | --torch-rng)
#                                                 [--no-bias] [--gelu tanh|none] [--steps N] [--threads N]
import argparse, json, math, struct, time
import numpy as np, torch, torch.nn.functional as F

B, T, C, H, L = 12, 64, 128, 4, 4               # the tiny config
ITERS, WARMUP, LR, MIN_LR = 2000, 100, 1e-3, 1e-4

# ---- our Rng (tensor/rng.h): the i-th draw is mix64 of a Weyl sequence ----------
M64, GOLDEN = (1 << 64) - 1, 0x9E3779B97F4A7C15

def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)

def hash64(seed, counter):
    key = mix64((seed + GOLDEN) & M64)
    return mix64((key + (counter + 1) * GOLDEN) & M64)

class OurRng:
    def __init__(self, seed):
        self.seed, self.counter = seed, 0

    def below(self, n):  # rejection sampling: uniform in [0, n)
        threshold = ((1 << 64) - n) % n
        while True:
            x = hash64(self.seed, self.counter)
            self.counter += 1
            if x >= threshold:
                return x % n

def batch(data, rng):  # B windows of T+1 ids -> inputs, targets (B, T)
    n = len(data) - T
    starts = [rng.below(n) for _ in range(B)] if rng else torch.randint(n, (B,)).tolist()
    x = np.stack([data[s:s + T] for s in starts])
    y = np.stack([data[s + 1:s + T + 1] for s in starts])
    return torch.from_numpy(x), torch.from_numpy(y)

# ---- weights: our model.safetensors (HF GPT-2 names, (in, out) layout) -----------
def shapes(V):
    s = {'wte.weight': (V, C), 'wpe.weight': (T, C), 'ln_f.weight': (C,), 'ln_f.bias': (C,)}
    for l in range(L):
        p = f'h.{l}.'
        for ln in ('ln_1', 'ln_2'):
            s[p + ln + '.weight'] = s[p + ln + '.bias'] = (C,)
        for name, n_in, n_out in (('attn.c_attn', C, 3 * C), ('attn.c_proj', C, C),
                                  ('mlp.c_fc', C, 4 * C), ('mlp.c_proj', 4 * C, C)):
            s[p + name + '.weight'], s[p + name + '.bias'] = (n_in, n_out), (n_out,)
    return s

def load_safetensors(path):
    with open(path, 'rb') as f:
        header = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))
        raw = f.read()
    return {k: torch.from_numpy(np.frombuffer(raw[v['data_offsets'][0]:v['data_offsets'][1]],
                                              dtype=np.float32).reshape(v['shape']).copy())
            for k, v in header.items() if k != '__metadata__'}

def torch_init(V, bias):  # GPT-2 init from torch's generator
    w = {}
    for k, shape in sorted(shapes(V).items()):  # the order of our safetensors header
        if k.endswith('.bias') and not bias:
            continue
        t = torch.empty(shape)
        if 'ln_' in k:
            t.fill_(1.0 if k.endswith('weight') else 0.0)
        elif k.endswith('bias'):
            t.zero_()
        else:
            t.normal_(0.0, 0.02 / math.sqrt(2 * L) if k.endswith('c_proj.weight') else 0.02)
        w[k] = t
    return w

# ---- the model: GPT-2, tanh GELU, head tied to wte ------------------------------
def forward(P, x, gelu):  # x (B, T) -> logits (B, T, V)
    def ln(h, p): return F.layer_norm(h, (C,), P[p + '.weight'], P.get(p + '.bias'), 1e-5)
    def lin(h, p): return h @ P[p + '.weight'] + P[p + '.bias'] if p + '.bias' in P else h @ P[p + '.weight']
    h = P['wte.weight'][x] + P['wpe.weight'][:T]
    for l in range(L):
        p = f'h.{l}.'
        q, k, v = lin(ln(h, p + 'ln_1'), p + 'attn.c_attn').split(C, dim=2)
        q, k, v = [t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float('-inf'))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        h = h + lin(y, p + 'attn.c_proj')
        h = h + lin(F.gelu(lin(ln(h, p + 'ln_2'), p + 'mlp.c_fc'), approximate=gelu),
                    p + 'mlp.c_proj')
    return ln(h, 'ln_f') @ P['wte.weight'].t()

def loss_of(P, x, y, gelu='tanh'):
    logits = forward(P, x, gelu)
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))

def lr_at(it):  # train/schedule.cpp
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    r = (it - WARMUP) / (ITERS - WARMUP)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * r)) * (LR - MIN_LR)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('corpus'); ap.add_argument('seed', type=int)
    ap.add_argument('--init'); ap.add_argument('--torch-rng', action='store_true')
    ap.add_argument('--no-bias', action='store_true')  # nanoGPT's default model
    ap.add_argument('--gelu', choices=['tanh', 'none'], default='tanh')  # none = exact erf
    ap.add_argument('--steps', type=int, default=ITERS); ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    text = open(a.corpus, encoding='utf-8').read()
    stoi = {c: i for i, c in enumerate(sorted(set(text)))}  # our char tokenizer's ids
    ids = np.array([stoi[c] for c in text], dtype=np.int64)
    n_val = int(len(ids) * 0.1)
    train, val = ids[:len(ids) - n_val], ids[len(ids) - n_val:]
    if a.torch_rng:
        torch.manual_seed(a.seed)
        weights, train_rng, val_rng = torch_init(len(stoi), not a.no_bias), None, None
    else:
        weights = load_safetensors(a.init + '/model.safetensors')
        train_rng, val_rng = OurRng(hash64(a.seed, 1)), OurRng(hash64(a.seed, 2))
    P = {k: torch.nn.Parameter(v) for k, v in weights.items()}
    opt = torch.optim.AdamW([{'params': [p for p in P.values() if p.dim() >= 2], 'weight_decay': 0.1},
                             {'params': [p for p in P.values() if p.dim() < 2], 'weight_decay': 0.0}],
                            lr=LR, betas=(0.9, 0.99), eps=1e-8)
    t0, losses = time.time(), {}
    for it in range(a.steps):
        x, y = batch(train, train_rng)
        for g in opt.param_groups:
            g['lr'] = lr_at(it)
        loss = loss_of(P, x, y, a.gelu)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()
        if it == 0 or (it + 1) % 10 == 0:
            losses[it + 1] = loss.item()  # our log.jsonl's "iter" counts from 1
    train_s = time.time() - t0
    with torch.no_grad():
        val_loss = sum(loss_of(P, *batch(val, val_rng), a.gelu).item() for _ in range(200)) / 200
    print(json.dumps({'seed': a.seed, 'torch_rng': a.torch_rng, 'bias': not a.no_bias,
                      'gelu': a.gelu, 'val_loss': val_loss,
                      'train_seconds': train_s, 'losses': losses}))

if __name__ == '__main__':
    main()
