#!/usr/bin/env python3
"""torch_gpu_peer.py — the PyTorch CUDA peer for bench/gpu-check.sh: the same math as each debora case
timed by test/gpu/timing.cpp, in eager PyTorch on the GPU (float32, TF32 off so both sides do full fp32
arithmetic, cuDNN autotuning on), timed with CUDA events after warm-up (median of >= 10 runs and
>= 0.2 s). Reads the cases from the timing driver's JSON, prints one line per case and writes
{case_id: median_ms}. Usage: torch_gpu_peer.py TIMING_JSON OUT_JSON."""
import json
import statistics
import sys

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
dev = torch.device("cuda")
torch.manual_seed(0)


def median_ms(step, min_runs=10, min_ms=200.0, max_runs=200):
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    while (len(times) < min_runs or sum(times) < min_ms) and len(times) < max_runs:
        a.record()
        step()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def leaf(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, device=dev) * (hi - lo) + lo).requires_grad_(True)


def linear(N, n_in, n_out, r):
    # Adapter term only (the frozen base GEMM is not part of the op), forward and backward for X, U, V, s.
    X, U, V, s = leaf(N, n_in), leaf(n_out, r), leaf(n_in, r), leaf(r, lo=0.1)
    dY = torch.rand(N, n_out, device=dev)

    def step():
        X.grad = U.grad = V.grad = s.grad = None
        Y = ((X @ V) * s) @ U.t()
        Y.backward(dY)

    return median_ms(step)


def conv(batch, C, H, W, F, kh, kw, stride, pad, dil, r):
    Fn = torch.nn.functional
    x = leaf(batch, C, H, W)
    U1, U2, U3, U4, s = leaf(F, r), leaf(C, r), leaf(kh, r), leaf(kw, r), leaf(r, lo=0.1)
    Ho = (H + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    Wo = (W + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    dY = torch.rand(batch, F, Ho, Wo, device=dev)

    def step():
        for t in (x, U1, U2, U3, U4, s):
            t.grad = None
        t = Fn.conv2d(x, U2.t().reshape(r, C, 1, 1))
        t = Fn.conv2d(t, U3.t().reshape(r, 1, kh, 1), stride=(stride, 1), padding=(pad, 0), dilation=(dil, 1), groups=r)
        t = Fn.conv2d(t, U4.t().reshape(r, 1, 1, kw), stride=(1, stride), padding=(0, pad), dilation=(1, dil), groups=r)
        y = Fn.conv2d(t * s.reshape(1, r, 1, 1), U1.reshape(F, r, 1, 1))
        y.backward(dY)

    return median_ms(step)


def materialize(dims, r):
    factors = [torch.rand(n, r, device=dev) for n in dims]
    s = torch.rand(r, device=dev)
    letters = "abcdef"[: len(dims)]
    eq = ",".join(f"{c}z" for c in letters) + ",z->" + letters
    return median_ms(lambda: torch.einsum(eq, *factors, s))


def mttkrp(dims, r):
    factors = [torch.rand(n, r, device=dev) for n in dims]
    s = torch.rand(r, device=dev)
    G = torch.rand(*dims, device=dev)
    letters = "abcdef"[: len(dims)]

    def step():
        # every factor gradient and ds from the dense gradient (PyTorch's generic path: einsum)
        for k in range(len(dims)):
            others = [f"{letters[m]}z" for m in range(len(dims)) if m != k]
            eq = letters + "," + ",".join(others) + f"->{letters[k]}z"
            g = torch.einsum(eq, G, *[factors[m] for m in range(len(dims)) if m != k]) * s
        eq = letters + "," + ",".join(f"{c}z" for c in letters) + "->z"
        return g, torch.einsum(eq, G, *factors)

    return median_ms(step)


def tangent(n, r):
    U, G = torch.rand(n, r, device=dev), torch.rand(n, r, device=dev)

    def step():
        M = U.t() @ G
        out = G - U @ ((M + M.t()) * 0.5)
        return out, (U * out).sum(0)

    return median_ms(step)


def run(case):
    op, sh = case["op"], case["shape"]
    if op == "cp_linear_fwd_bwd":
        return linear(sh["N"], sh["n_in"], sh["n_out"], sh["r"])
    if op == "cp_conv2d_fwd_bwd":
        return conv(sh["batch"], sh["C"], sh["H"], sh["W"], sh["F"], sh["kh"], sh["kw"], sh["stride"], sh["pad"],
                    sh["dil"], sh["r"])
    if op == "cp_materialize":
        return materialize(sh["dims"], sh["r"])
    if op == "cp_mttkrp":
        return mttkrp(sh["dims"], sh["r"])
    if op == "cp_tangent":
        return tangent(sh["n"], sh["r"])
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: torch_gpu_peer.py TIMING_JSON OUT_JSON")
    if not torch.cuda.is_available():
        sys.exit("torch_gpu_peer: torch.cuda.is_available() is False")
    cases = json.load(open(sys.argv[1]))["cases"]
    out = {}
    for case in cases:
        ms = run(case)
        out[case["id"]] = ms
        print(f"{case['id']:<44} torch-cuda-eager {ms:9.3f} ms" if ms is not None else f"{case['id']}: no peer", flush=True)
        torch.cuda.empty_cache()
    json.dump({"peer": f"torch-{torch.__version__}-cuda-eager", "device": torch.cuda.get_device_name(0), "cases": out},
              open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
