#!/usr/bin/python3
"""Golden values for the encoding unit tests (tests/test_rope_scaling.cc, test_bias.cc, test_rope.cc).

Independent numpy re-implementations of the papers' reference code, written in
that code's own style and never calling pelab. Run with Debian's python:

    /usr/bin/python3 tests/golden/gen_golden.py

and paste what it prints into the C++ tests as literals; each C++ table names the
generator function below that produced it.

Sources transcribed (read, not copied):
  * huggingface/transformers src/transformers/modeling_rope_utils.py:
      _compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
      _compute_dynamic_ntk_parameters, _compute_yarn_parameters (find_correction_dim,
      find_correction_range with truncate=True, linear_ramp_factor),
      _compute_llama3_parameters
  * jquesnelle/yarn scaled_rope/LlamaNTKScaledRotaryEmbedding.py: base * alpha ** (dim / (dim - 2))
  * YaRN paper (arXiv 2309.00071) §3.2 NTK-by-parts: gamma ramp on r = L / lambda
  * ofirpress/attention_with_linear_biases fairseq/models/transformer.py: get_slopes (recursive)
  * sunyt32/torchscale torchscale/component/xpos_relative_position.py: scale = (arange(0, d, 2) + 0.4 d) / (1.4 d)
  * tensorflow/mesh mesh_tensorflow/transformer/transformer_layers.py: _relative_position_bucket (float32 log)

Precision: HF builds its tables in torch float32; pelab builds them in float64.
These generators work in float64 (same formulas, same operation order), so the
C++ tests can compare at ~1e-12 relative. The T5 bucket function keeps the
reference's float32 log, since the bucket boundaries depend on it.
"""
import math

import numpy as np


# ---------------------------------------------------------------- RoPE inv_freq
def default_inv_freq(base, dim):
    """HF _compute_default_rope_parameters: inv_freq = 1 / base ** (arange(0, dim, 2) / dim)."""
    inv_freq = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.int64).astype(np.float64) / dim))
    attention_factor = 1.0
    return inv_freq, attention_factor


def linear_inv_freq(base, dim, factor):
    """HF _compute_linear_scaling_rope_parameters: default inv_freq divided by factor."""
    inv_freq, attention_factor = default_inv_freq(base, dim)
    inv_freq = inv_freq / factor
    return inv_freq, attention_factor


def dynamic_ntk_inv_freq(base, dim, max_position_embeddings, factor, seq_len):
    """HF _compute_dynamic_ntk_parameters at the current sequence length seq_len."""
    attention_factor = 1.0
    seq_len = seq_len if seq_len is not None and seq_len > max_position_embeddings else max_position_embeddings
    base = base * ((factor * seq_len / max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))
    inv_freq = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.int64).astype(np.float64) / dim))
    return inv_freq, attention_factor


def ntk_base(base, alpha, dim):
    """jquesnelle/yarn LlamaNTKScaledRotaryEmbedding.__init__: base = base * alpha ** (dim / (dim - 2))."""
    return base * alpha ** (dim / (dim - 2))


def ntk_inv_freq(base, dim, alpha):
    """jquesnelle/yarn LlamaNTKScaledRotaryEmbedding: inv_freq from the NTK-scaled base."""
    base = ntk_base(base, alpha, dim)
    inv_freq = 1.0 / (base ** (np.arange(0, dim, 2).astype(np.float64) / dim))
    return inv_freq


def yarn_inv_freq(base, dim, factor, max_position_embeddings, beta_fast=None, beta_slow=None, attention_factor=None):
    """HF _compute_yarn_parameters (truncate=True). Returns (inv_freq, attention_factor, (low, high))."""

    def get_mscale(scale):
        if scale <= 1:
            return 1.0
        return 0.1 * math.log(scale) + 1.0

    if attention_factor is None:
        attention_factor = get_mscale(factor)

    beta_fast = beta_fast or 32
    beta_slow = beta_slow or 1

    def find_correction_dim(num_rotations, dim, base, max_position_embeddings):
        # inverse of r_k = L / lambda_k: the dimension at which num_rotations fit in L
        return (dim * math.log(max_position_embeddings / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

    def find_correction_range(low_rot, high_rot, dim, base, max_position_embeddings, truncate=True):
        low = find_correction_dim(low_rot, dim, base, max_position_embeddings)
        high = find_correction_dim(high_rot, dim, base, max_position_embeddings)
        if truncate:
            low = math.floor(low)
            high = math.ceil(high)
        return max(low, 0), min(high, dim - 1)

    def linear_ramp_factor(min, max, dim):  # noqa: A002 (names as in the reference)
        if min == max:
            max += 0.001  # prevent singularity
        linear_func = (np.arange(dim, dtype=np.float64) - min) / (max - min)
        ramp_func = np.clip(linear_func, 0, 1)
        return ramp_func

    pos_freqs = base ** (np.arange(0, dim, 2).astype(np.float64) / dim)
    inv_freq_extrapolation = 1.0 / pos_freqs
    inv_freq_interpolation = 1.0 / (factor * pos_freqs)

    low, high = find_correction_range(beta_fast, beta_slow, dim, base, max_position_embeddings)

    inv_freq_extrapolation_factor = 1 - linear_ramp_factor(low, high, dim // 2)
    inv_freq = (
        inv_freq_interpolation * (1 - inv_freq_extrapolation_factor)
        + inv_freq_extrapolation * inv_freq_extrapolation_factor
    )
    return inv_freq, attention_factor, (low, high)


def ntk_by_parts_inv_freq(base, dim, factor, original_length, alpha=1.0, beta=32.0):
    """YaRN paper §3.2: r = L / lambda, gamma(r) ramp on [alpha, beta], theta' = (1 - gamma) theta / s + gamma theta."""
    theta = default_inv_freq(base, dim)[0]
    wavelength = 2 * math.pi / theta
    r = original_length / wavelength
    gamma = np.where(r < alpha, 0.0, np.where(r > beta, 1.0, (r - alpha) / (beta - alpha)))
    return (1 - gamma) * theta / factor + gamma * theta


def llama3_inv_freq(base, dim, factor, low_freq_factor, high_freq_factor, old_context_len):
    """HF _compute_llama3_parameters."""
    inv_freq, attention_factor = default_inv_freq(base, dim)

    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor

    wavelen = 2 * math.pi / inv_freq
    # wavelen < high_freq_wavelen: keep; wavelen > low_freq_wavelen: divide by factor
    inv_freq_llama = np.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # in between: interpolate with a smooth factor
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    inv_freq_llama = np.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    return inv_freq_llama, attention_factor


# ---------------------------------------------------------------- xPos
def xpos_scale(head_dim):
    """torchscale XPOS.__init__: scale = (arange(0, head_dim, 2) + 0.4 * head_dim) / (1.4 * head_dim)."""
    return (np.arange(0, head_dim, 2) + 0.4 * head_dim) / (1.4 * head_dim)


def xpos_scale_at(head_dim, length, scale_base=512):
    """torchscale XPOS.forward: scale ** ((arange(length) - length // 2) / scale_base), shape (length, head_dim/2)."""
    scale = xpos_scale(head_dim)
    power = (np.arange(length) - length // 2) / scale_base
    return scale[None, :] ** power[:, None]


# ---------------------------------------------------------------- ALiBi
def get_slopes(n):
    """fairseq (ALiBi reference) get_slopes, recursive."""

    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio ** i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    # Only powers of 2 have the nice geometric form; other head counts take every
    # other slope of the next power of 2 to fill up.
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return get_slopes_power_of_2(closest_power_of_2) + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2]


# ---------------------------------------------------------------- T5
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """mesh-tensorflow _relative_position_bucket on an int32 array.

    relative_position = memory_position - query_position (= j - i); float32 log as tf.log(tf.to_float(n)).
    """
    relative_position = np.asarray(relative_position, dtype=np.int32)
    ret = np.zeros_like(relative_position)
    n = -relative_position
    if bidirectional:
        num_buckets //= 2
        ret += (n < 0).astype(np.int32) * num_buckets
        n = np.abs(n)
    else:
        n = np.maximum(n, 0)
    # now n is in the range [0, inf)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) in the branch is_small discards
        val_if_large = max_exact + (
            np.log(n.astype(np.float32) / np.float32(max_exact))
            / np.float32(math.log(max_distance / max_exact))
            * np.float32(num_buckets - max_exact)
        ).astype(np.int32)
    val_if_large = np.minimum(val_if_large, num_buckets - 1)
    ret += np.where(is_small, n, val_if_large)
    return ret


# ---------------------------------------------------------------- printing
def fmt(values, per_line=4):
    vals = [repr(float(v)) for v in values]
    lines = []
    for i in range(0, len(vals), per_line):
        lines.append("    " + ", ".join(vals[i:i + per_line]) + ",")
    return "\n".join(lines)


def fmt_int(values, per_line=20):
    vals = [str(int(v)) for v in values]
    lines = []
    for i in range(0, len(vals), per_line):
        lines.append("    " + ", ".join(vals[i:i + per_line]) + ",")
    return "\n".join(lines)


def table(name, values, comment):
    print(f"// {comment}")
    print(f"const double {name}[] = {{")
    print(fmt(values))
    print("};")
    print()


# Distances used by the T5 tables: n = i - j.
T5_CAUSAL_N = list(range(-3, 140)) + [150, 181, 200, 255, 256, 511, 512, 1000, 4096, 100000]
T5_BIDIR_N = list(range(-140, 141)) + [-100000, -1000, -200, 200, 1000, 100000]
T5_WIDE_N = [0, 1, 15, 16, 31, 32, 33, 40, 50, 64, 100, 127, 128, 200, 255, 256, 300, 400, 500, 511, 512, 513, 1000, 10000]


def main():
    print("// ---- test_rope_scaling.cc ----")
    inv, _ = default_inv_freq(10000.0, 64)
    table("kDefault_b10000_d64", inv, "default_inv_freq(base=10000, dim=64)")
    inv, _ = linear_inv_freq(10000.0, 64, 4.0)
    table("kLinear_b10000_d64_s4", inv, "linear_inv_freq(base=10000, dim=64, factor=4)")
    print(f"// ntk_base(10000, 2, 128) = {ntk_base(10000.0, 2.0, 128)!r}")
    table("kNtk_b10000_d64_s4", ntk_inv_freq(10000.0, 64, 4.0), "ntk_inv_freq(base=10000, dim=64, alpha=4)")
    inv, _ = dynamic_ntk_inv_freq(10000.0, 64, 2048, 4.0, 1024)
    table("kDynamic_b10000_d64_s4_L2048_cur1024", inv, "dynamic_ntk_inv_freq(10000, 64, max_pos=2048, factor=4, seq_len=1024)")
    inv, _ = dynamic_ntk_inv_freq(10000.0, 64, 2048, 4.0, 5000)
    table("kDynamic_b10000_d64_s4_L2048_cur5000", inv, "dynamic_ntk_inv_freq(10000, 64, max_pos=2048, factor=4, seq_len=5000)")
    inv, af, (lo, hi) = yarn_inv_freq(10000.0, 128, 4.0, 2048)
    print(f"// yarn_inv_freq(10000, 128, factor=4, L=2048): attention_factor = {af!r}, correction range = [{lo}, {hi}]")
    table("kYarn_b10000_d128_s4_L2048", inv, "yarn_inv_freq(base=10000, dim=128, factor=4, max_position_embeddings=2048)")
    inv, af, (lo, hi) = yarn_inv_freq(500000.0, 64, 8.0, 4096, beta_fast=16.0, beta_slow=2.0)
    print(f"// yarn_inv_freq(500000, 64, factor=8, L=4096, 16, 2): attention_factor = {af!r}, correction range = [{lo}, {hi}]")
    table("kYarn_b500000_d64_s8_L4096_bf16_bs2", inv,
          "yarn_inv_freq(base=500000, dim=64, factor=8, max_position_embeddings=4096, beta_fast=16, beta_slow=2)")
    table("kNtkByParts_b10000_d64_s4_L2048", ntk_by_parts_inv_freq(10000.0, 64, 4.0, 2048, 1.0, 32.0),
          "ntk_by_parts_inv_freq(base=10000, dim=64, factor=4, original_length=2048, alpha=1, beta=32)")
    inv, _ = llama3_inv_freq(500000.0, 128, 8.0, 1.0, 4.0, 8192)
    table("kLlama3_b500000_d128", inv,
          "llama3_inv_freq(base=500000, dim=128, factor=8, low_freq_factor=1, high_freq_factor=4, old_context_len=8192)")

    print("// ---- test_rope.cc ----")
    table("kXposScale_d64", xpos_scale(64), "xpos_scale(head_dim=64)")
    sc = xpos_scale_at(16, 9, scale_base=4)
    table("kXposScaleAt_d16_len9_B4", sc.reshape(-1), "xpos_scale_at(head_dim=16, length=9, scale_base=4), (9, 8) row-major")

    print("// ---- test_bias.cc ----")
    for n in (1, 2, 3, 5, 6, 7, 12, 20, 24):
        table(f"kAlibiSlopes{n}", get_slopes(n), f"get_slopes({n})")
    causal = relative_position_bucket([-n for n in T5_CAUSAL_N], bidirectional=False, num_buckets=32, max_distance=128)
    print("// n = i - j for kT5Causal32_128 (relative_position = -n)")
    print("const long kT5CausalN[] = {\n" + fmt_int(T5_CAUSAL_N) + "\n};")
    print("// relative_position_bucket(-n, bidirectional=False, num_buckets=32, max_distance=128)")
    print("const int kT5Causal32_128[] = {\n" + fmt_int(causal) + "\n};\n")
    bidir = relative_position_bucket([-n for n in T5_BIDIR_N], bidirectional=True, num_buckets=32, max_distance=128)
    print("const long kT5BidirN[] = {\n" + fmt_int(T5_BIDIR_N) + "\n};")
    print("// relative_position_bucket(-n, bidirectional=True, num_buckets=32, max_distance=128)")
    print("const int kT5Bidir32_128[] = {\n" + fmt_int(bidir) + "\n};\n")
    wide = relative_position_bucket([-n for n in T5_WIDE_N], bidirectional=False, num_buckets=64, max_distance=512)
    print("const long kT5WideN[] = {\n" + fmt_int(T5_WIDE_N) + "\n};")
    print("// relative_position_bucket(-n, bidirectional=False, num_buckets=64, max_distance=512)")
    print("const int kT5Causal64_512[] = {\n" + fmt_int(wide) + "\n};\n")
    wideb = relative_position_bucket([-n for n in T5_WIDE_N] + [n for n in T5_WIDE_N], bidirectional=True,
                                     num_buckets=64, max_distance=512)
    print("// relative_position_bucket(-n then +n over kT5WideN, bidirectional=True, num_buckets=64, max_distance=512)")
    print("const int kT5Bidir64_512[] = {\n" + fmt_int(wideb) + "\n};")


if __name__ == "__main__":
    main()
