#!/usr/bin/env python3
"""torch_peer.py — the PyTorch CPU peer for the kernel benchmarks: the same math as each debora
op, in PyTorch's fastest honest form, timed after warm-up (median of many runs). Run by
bench/kernels.bench.ts with the clean two-thread environment of ../shared/PEERS.md; prints one
JSON object {case_id: median_ms}. Usage: torch_peer.py '<json list of cases>'."""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)


def median_ms(fn, min_runs=10, min_seconds=0.5):
    for _ in range(3):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) > 2000:
            break
    return statistics.median(times)


def linear_fwd_bwd(N, n_in, n_out, r):
    # Adapter term only (the frozen base GEMM is not part of the op): Y = ((X V) * s) U^T, and the
    # backward for U, V, s and X. Autograd over the chain is PyTorch's natural way to do it.
    X = torch.randn(N, n_in, requires_grad=True)
    U = torch.randn(n_out, r, requires_grad=True)
    V = torch.randn(n_in, r, requires_grad=True)
    s = torch.rand(r, requires_grad=True)
    dY = torch.randn(N, n_out)

    def step():
        Y = ((X @ V) * s) @ U.t()
        Y.backward(dY)

    return median_ms(step)


def conv_fwd_bwd(B, C, H, W, F, kh, kw, r, stride, pad, dil):
    x = torch.randn(B, C, H, W, requires_grad=True).contiguous(memory_format=torch.channels_last)
    x.retain_grad()
    U1 = torch.randn(F, r, requires_grad=True)
    U2 = torch.randn(C, r, requires_grad=True)
    U3 = torch.randn(kh, r, requires_grad=True)
    U4 = torch.randn(kw, r, requires_grad=True)
    s = torch.rand(r, requires_grad=True)
    Ho = (H + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    Wo = (W + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    dY = torch.randn(B, F, Ho, Wo)
    F_ = torch.nn.functional

    def step():
        t = F_.conv2d(x, U2.t().reshape(r, C, 1, 1))
        t = F_.conv2d(t, U3.t().reshape(r, 1, kh, 1), stride=(stride, 1), padding=(pad, 0), dilation=(dil, 1), groups=r)
        t = F_.conv2d(t, U4.t().reshape(r, 1, 1, kw), stride=(1, stride), padding=(0, pad), dilation=(1, dil), groups=r)
        t = t * s.reshape(1, r, 1, 1)
        y = F_.conv2d(t, U1.reshape(F, r, 1, 1))
        y.backward(dY)

    return median_ms(step)


def mttkrp(dims, r):
    factors = [torch.randn(n, r) for n in dims]
    s = torch.rand(r)
    G = torch.randn(*dims)
    letters = "abcdef"[: len(dims)]

    def step():
        # every factor gradient and ds from one dense gradient, by einsum (PyTorch's best generic path)
        for k in range(len(dims)):
            others = [f"{letters[m]}z" for m in range(len(dims)) if m != k]
            spec = f"{letters},{','.join(others)}->{letters[k]}z"
            torch.einsum(spec, G, *[factors[m] for m in range(len(dims)) if m != k]) * s
        spec = f"{letters},{','.join(f'{c}z' for c in letters)}->z"
        torch.einsum(spec, G, *factors)

    return median_ms(step)


def main():
    cases = json.loads(sys.argv[1])
    out = {}
    with torch.no_grad():
        pass
    for c in cases:
        kind = c["op"]
        shp = c["shape"]
        if kind == "cp_linear_fwd_bwd":
            out[c["id"]] = linear_fwd_bwd(shp["N"], shp["n_in"], shp["n_out"], shp["r"])
        elif kind == "cp_conv2d_fwd_bwd":
            out[c["id"]] = conv_fwd_bwd(shp["B"], shp["C"], shp["H"], shp["W"], shp["F"], shp["kh"], shp["kw"], shp["r"],
                                        shp.get("stride", 1), shp.get("pad", 1), shp.get("dil", 1))
        elif kind == "cp_mttkrp":
            with torch.no_grad():
                out[c["id"]] = mttkrp(shp["dims"], shp["r"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
