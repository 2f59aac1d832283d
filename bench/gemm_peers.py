#!/usr/bin/python3
"""Single- and two-thread float products of the shapes the seed LSTM (3 x 512) trains and
generates with, through libtorch's BLAS (OpenBLAS, with whatever OPENBLAS_CORETYPE says) and
through oneDNN's dnnl_sgemm (libdnnl.so.2, which libtorch links too), in one run: why arioso's
LSTM layer calls oneDNN. GFLOP/s for products, GB/s of weights read for batch-1 steps.
Usage: bench/gemm_peers.py   (sets the thread counts itself, one child process per setting)"""
import ctypes, os, subprocess, sys, time

SHAPES = [  # (name, M, K, N, A transposed, B transposed)
    ("input projections x W_ih^T (T*B=4096 rows)", 4096, 512, 2048, False, True),
    ("step h W_hh^T, W_hh^T laid out (B=32)", 32, 512, 2048, False, False),
    ("step h W_hh^T, transposed view (B=32)", 32, 512, 2048, False, True),
    ("backward step da W_hh (B=32)", 32, 2048, 512, False, False),
    ("weight gradient da^T x", 2048, 4096, 512, True, False),
    ("input gradient da W_ih", 4096, 2048, 512, False, False),
    ("generation step [x h] W^T (batch 1)", 1, 1024, 2048, False, True),
]

def child(threads):
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    import numpy as np, torch
    torch.set_num_threads(threads)
    lib = ctypes.CDLL("libdnnl.so.2")
    f = lib.dnnl_sgemm
    f.argtypes = [ctypes.c_char, ctypes.c_char] + [ctypes.c_int64] * 3 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int64,
                  ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p, ctypes.c_int64]
    def timed(call):
        for _ in range(3): call()
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < 0.4: call(); n += 1
        return (time.perf_counter() - t) / n
    for name, M, K, N, ta, tb in SHAPES:
        a = torch.randn(K, M).t() if ta else torch.randn(M, K)
        b = torch.randn(N, K).t() if tb else torch.randn(K, N)
        c = torch.zeros(M, N)
        t_blas = timed(lambda: torch.mm(a, b, out=c))
        an, bn = a.t().contiguous().numpy() if ta else a.numpy(), b.t().contiguous().numpy() if tb else b.numpy()
        cn = np.zeros((M, N), np.float32)
        call = lambda: f(b'T' if ta else b'N', b'T' if tb else b'N', M, N, K, 1.0, an.ctypes.data, M if ta else K,
                         bn.ctypes.data, K if tb else N, 0.0, cn.ctypes.data, N)
        t_dnnl = timed(call)
        err = float(abs(cn - (a @ b).numpy()).max())
        if M == 1:
            unit, blas, dnnl = "GB/s", K * N * 4 / t_blas / 1e9, K * N * 4 / t_dnnl / 1e9
        else:
            unit, blas, dnnl = "GFLOP/s", 2 * M * K * N / t_blas / 1e9, 2 * M * K * N / t_dnnl / 1e9
        print(f"  {name:44s} OpenBLAS {blas:6.1f}  oneDNN {dnnl:6.1f} {unit:7s} ({dnnl / blas:.2f}x; max diff {err:.1e})")

if __name__ == "__main__":
    if len(sys.argv) > 1:
        child(int(sys.argv[1]))
    else:
        print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
        for threads in (1, 2):
            print(f"{threads} thread{'s' if threads > 1 else ''}:", flush=True)
            subprocess.run([sys.executable, __file__, str(threads)], check=True)
