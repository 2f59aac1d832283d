#!/usr/bin/python3
"""Reference numerics for arioso's models with PyTorch (Debian python3-torch): a tiny seeded
LSTM and Transformers (learned and rotary positions) built exactly like src/model/model.cpp
(same parameter names), their logits, mean cross-entropy loss and gradients on a fixed batch,
the mean next-token NLL of one sequence (what `arioso evaluate` reports) and its logits (which
arioso's cached one-token steps must reproduce). Writes tests/data/model_reference.json.
Run: /usr/bin/python3 tests/reference/model_reference.py"""
import json, math, os
import torch
import torch.nn as nn
import torch.nn.functional as F

V, B, T = 11, 2, 7

class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, 6)
        self.lstm = nn.LSTM(6, 10, num_layers=2, batch_first=True)
        self.dense = nn.Linear(10, 8)
        self.out = nn.Linear(8, V)
    def forward(self, x):
        h, _ = self.lstm(self.embedding(x))
        return self.out(F.relu(self.dense(h)))

def rotate(x, cos, sin):
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

def rotary_tables(T, hd):
    inv = 10000.0 ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2 / hd)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
    return angle.cos().float(), angle.sin().float()

class Block(nn.Module):
    def __init__(self, d, heads, rotary=False):
        super().__init__()
        self.heads = heads
        self.rotary = rotary
        self.ln1 = nn.LayerNorm(d); self.qkv = nn.Linear(d, 3 * d); self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d); self.fc = nn.Linear(d, 4 * d); self.fc2 = nn.Linear(4 * d, d)
    def forward(self, x):
        Bx, Tx, C = x.shape
        hd = C // self.heads
        q, k, v = self.qkv(self.ln1(x)).view(Bx, Tx, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        if self.rotary:
            cos, sin = rotary_tables(Tx, hd)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        att = q @ k.transpose(-2, -1) / math.sqrt(hd)
        mask = torch.triu(torch.ones(Tx, Tx, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float('-inf')).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(Bx, Tx, C)
        h = x + self.proj(y)
        return h + self.fc2(F.gelu(self.fc(self.ln2(h))))

class Transformer(nn.Module):
    def __init__(self, d=8, heads=2, blocks=2, context=16, rotary=False):
        super().__init__()
        self.tok = nn.Embedding(V, d)
        self.pos = None if rotary else nn.Embedding(context, d)
        for i in range(blocks):
            self.add_module(f'block{i}', Block(d, heads, rotary))
        self.blocks = blocks
        self.ln = nn.LayerNorm(d)
    def forward(self, x):
        h = self.tok(x)
        if self.pos is not None: h = h + self.pos(torch.arange(x.shape[1]))[None]
        for i in range(self.blocks):
            h = getattr(self, f'block{i}')(h)
        return self.ln(h) @ self.tok.weight.t()

def case(model, x, y, seq):
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    loss.backward()
    with torch.no_grad():
        s = torch.tensor([seq])
        seq_logits = model(s[:, :-1])[0]
        nll = F.cross_entropy(seq_logits, s[0, 1:]).item()
    return {
        'params': {n: {'shape': list(p.shape), 'data': p.detach().reshape(-1).tolist()} for n, p in model.named_parameters()},
        'logits': logits.detach().reshape(-1).tolist(),
        'loss': loss.item(),
        'grads': {n: p.grad.reshape(-1).tolist() for n, p in model.named_parameters()},
        'sequence_nll_per_token': nll,
        'sequence_logits': seq_logits.reshape(-1).tolist(),
    }

torch.manual_seed(0)
x = torch.randint(0, V, (B, T)); y = torch.randint(0, V, (B, T))
seq = torch.randint(0, V, (15,)).tolist()
out = {'vocab': V, 'x': x.tolist(), 'y': y.tolist(), 'sequence': seq,
       'lstm': case(Lstm(), x, y, seq), 'transformer': case(Transformer(), x, y, seq),
       'transformer_rotary': case(Transformer(d=8, heads=2, blocks=2, rotary=True), x, y, seq)}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'model_reference.json')
json.dump(out, open(path, 'w'))
print('wrote', path, 'torch', torch.__version__)
