#!/usr/bin/python3
"""The peer of `bench/model_bench transformer small`: the same decoder-only Transformer (4
pre-LayerNorm blocks of 256, 4 heads, rotary positions, GELU MLP, tied output) written the
plain PyTorch way (python3-torch 1.13 has no scaled_dot_product_attention: full masked
scores), AdamW training in tokens/s, and one-token generation with a key/value cache grown by
torch.cat, in tokens/s. PyTorch picks its own threads unless THREADS is given.
Usage: transformer_speed.py [vocab] [batch] [window] [steps] [threads]"""
import math, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
V = int(sys.argv[1]) if len(sys.argv) > 1 else 325
B = int(sys.argv[2]) if len(sys.argv) > 2 else 8
T = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 2
if len(sys.argv) > 5: torch.set_num_threads(int(sys.argv[5]))
D, H, L, CTX = 256, 4, 4, 1024

def rotate(x, cos, sin):
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

def tables(first, n, hd):
    inv = 10000.0 ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2 / hd)
    a = torch.arange(first, first + n, dtype=torch.float64)[:, None] * inv[None]
    return a.cos().float(), a.sin().float()

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D); self.qkv = nn.Linear(D, 3 * D); self.proj = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D); self.fc = nn.Linear(D, 4 * D); self.fc2 = nn.Linear(4 * D, D)
        self.drop = nn.Dropout(0.1)
    def forward(self, x, cos, sin, cache=None):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, H, c // H).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if cache is not None:
            if cache:
                k = torch.cat([cache[0], k], 2); v = torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        att = q @ k.transpose(-2, -1) / math.sqrt(c // H)
        if t > 1:
            att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float('-inf'))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        h = x + self.drop(self.proj(y))
        return h + self.drop(self.fc2(F.gelu(self.fc(self.ln2(h)))))

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D); self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln = nn.LayerNorm(D); self.drop = nn.Dropout(0.1)
    def forward(self, x, first=0, caches=None):
        cos, sin = tables(first, x.shape[1], D // H)
        h = self.drop(self.tok(x))
        for i, blk in enumerate(self.blocks):
            h = blk(h, cos, sin, None if caches is None else caches[i])
        return self.ln(h) @ self.tok.weight.t()

torch.manual_seed(0)
m = Model(); opt = torch.optim.AdamW(m.parameters(), 1e-3)
x = torch.randint(0, V, (B, T)); y = torch.randint(0, V, (B, T))
def step():
    opt.zero_grad(); F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1)).backward(); opt.step()
step(); t0 = time.time()
for _ in range(steps): step()
tps = B * T * steps / (time.time() - t0)
m.eval()
with torch.no_grad():
    caches = [[] for _ in range(L)]
    tok = torch.zeros(1, 1, dtype=torch.long)
    t0 = time.time()
    for i in range(500):
        tok = m(tok, i, caches)[:, -1].argmax(-1, keepdim=True)
    gen = 500 / (time.time() - t0)
print(f"python torch {torch.__version__} threads={torch.get_num_threads()} batch={B}x{T}: train {tps:.0f} tokens/s; "
      f"generate {gen:.0f} tokens/s")
