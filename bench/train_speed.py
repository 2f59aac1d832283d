#!/usr/bin/python3
"""The peer of bench/model_bench: the same model in Python PyTorch (python3-torch), default
settings (PyTorch picks its own thread count) unless THREADS is given; prints tokens/s.
Also the tutorial's training: one target per 100-step window of scalar inputs (targets/s).
Usage: train_speed.py [vocab] [batch] [window] [steps] [threads]"""
import sys, time
import torch, torch.nn as nn, torch.nn.functional as F
V = int(sys.argv[1]) if len(sys.argv) > 1 else 358
B = int(sys.argv[2]) if len(sys.argv) > 2 else 32
T = int(sys.argv[3]) if len(sys.argv) > 3 else 128
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 4
if len(sys.argv) > 5: torch.set_num_threads(int(sys.argv[5]))
class Seed(nn.Module):
    def __init__(self, scalar=False):
        super().__init__()
        self.scalar = scalar
        if not scalar: self.embedding = nn.Embedding(V, 128)
        self.lstm = nn.LSTM(1 if scalar else 128, 512, num_layers=3, dropout=0.3, batch_first=True)
        self.drop = nn.Dropout(0.3); self.dense = nn.Linear(512, 256); self.out = nn.Linear(256, V)
    def forward(self, x):
        h, _ = self.lstm(x.float().unsqueeze(-1) / V if self.scalar else self.embedding(x))
        if self.scalar: h = h[:, -1]
        return self.out(self.drop(F.relu(self.dense(self.drop(h)))))
torch.manual_seed(0)
m = Seed(); opt = torch.optim.AdamW(m.parameters(), 1e-3)
x = torch.randint(0, V, (B, T)); y = torch.randint(0, V, (B, T))
def step():
    opt.zero_grad(); F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1)).backward(); opt.step()
step(); t = time.time()
for _ in range(steps): step()
tps = B * T * steps / (time.time() - t)
s = Seed(scalar=True); o2 = torch.optim.RMSprop(s.parameters(), 1e-3)
xs = torch.randint(0, V, (128, 100)); ys = torch.randint(0, V, (128,))
def step2():
    o2.zero_grad(); F.cross_entropy(s(xs), ys).backward(); o2.step()
step2(); t = time.time()
for _ in range(2): step2()
tgt = 128 * 2 / (time.time() - t)
print(f"python torch {torch.__version__} threads={torch.get_num_threads()} batch={B}x{T}: train {tps:.0f} tokens/s; "
      f"tutorial windowed training {tgt:.1f} targets/s")
