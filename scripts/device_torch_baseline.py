#!/usr/bin/env python3
"""Baselines for scripts/device-check, measured on the same GPU in the same run:
a bf16 matrix-product peak (8192^3 through torch.matmul) and PyTorch's
scaled_dot_product_attention, forward and forward+backward, bf16, causal, at the
sizes pelab's bench uses: the flash backend without a bias, and with an ALiBi
bias (which SDPA must take as a materialized (H, N, N) tensor, so it falls back
to the efficient/math backends). Prints one JSON object per line. FLOPs by the
FlashAttention-2 convention: forward 4*N^2*D*H*B, halved when causal; backward
2.5x forward (fwd+bwd 3.5x). Times are medians of CUDA-event-timed repeats after
warm-ups, on random data (never zeros).

usage: device_torch_baseline.py --heads H --batch B --seq 1024,4096 --head-dim 64,128
"""
import argparse
import json
import math
import sys


def median_ms(fn, warmup=3, reps=10):
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def alibi_slopes(h):
    # Closed form for any head count (ALiBi, fairseq get_slopes).
    def pow2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(h).is_integer():
        return pow2(h)
    c = 2 ** math.floor(math.log2(h))
    return pow2(c) + pow2(2 * c)[0::2][: h - c]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", default="1024,4096,16384")
    ap.add_argument("--head-dim", default="64,128")
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except Exception as e:  # no PyTorch: the script says so and the check goes on
        print(json.dumps({"torch": None, "error": str(e)}))
        return 0
    if not torch.cuda.is_available():
        print(json.dumps({"torch": torch.__version__, "error": "no CUDA device"}))
        return 0
    dev = torch.device("cuda")
    torch.manual_seed(0)
    a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    ms = median_ms(lambda: torch.matmul(a, b))
    peak = 2 * 8192 ** 3 / (ms * 1e-3) / 1e12
    print(json.dumps({"what": "bf16_matmul_peak", "n": 8192, "ms": ms, "tflops": peak,
                      "gpu": torch.cuda.get_device_name(), "torch": torch.__version__}), flush=True)
    del a, b
    H, B = args.heads, args.batch
    for D in [int(x) for x in args.head_dim.split(",")]:
        for N in [int(x) for x in args.seq.split(",")]:
            q, k, v = (torch.randn(B, H, N, D, device=dev, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
            do = torch.randn(B, H, N, D, device=dev, dtype=torch.bfloat16)
            fwd_flops = 4 * N * N * D * H * B / 2
            for pe in ("none", "alibi"):
                rec = {"what": "sdpa", "seq": N, "head_dim": D, "heads": H, "batch": B, "causal": True, "pe": pe}
                try:
                    if pe == "none":
                        ctx = sdpa_kernel([SDPBackend.FLASH_ATTENTION])
                        call = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
                        rec["backend"] = "flash"
                    else:
                        # Causal ALiBi as one additive mask: -m_h (i - j) below the diagonal, -inf above.
                        i = torch.arange(N, device=dev)
                        dist = (i[:, None] - i[None, :]).to(torch.float32)
                        m = torch.tensor(alibi_slopes(H), device=dev, dtype=torch.float32)[:, None, None]
                        bias = torch.where(dist >= 0, -m * dist, torch.tensor(float("-inf"), device=dev))
                        bias = bias.to(torch.bfloat16).unsqueeze(0)
                        ctx = sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])
                        call = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
                        rec["backend"] = "efficient|math, materialized bias"
                    with ctx:
                        fms = median_ms(lambda: call())
                        def fb():
                            out = call()
                            out.backward(do)
                        fbms = median_ms(fb)
                    rec.update({"fwd_ms": fms, "fwd_tflops": fwd_flops / (fms * 1e-3) / 1e12,
                                "fwdbwd_ms": fbms, "fwdbwd_tflops": 3.5 * fwd_flops / (fbms * 1e-3) / 1e12})
                except Exception as e:  # e.g. out of memory for the materialized bias
                    rec["error"] = str(e).splitlines()[0][:200]
                print(json.dumps(rec), flush=True)
                q.grad = k.grad = v.grad = None
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
