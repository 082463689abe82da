#!/usr/bin/python3
"""Reads the files `pelab decay` writes with plain h5py and checks them.

    /usr/bin/python3 tests/check_decay_h5.py PATH_TO_PELAB

ctest runs this as h5py.decay_file. It runs `pelab decay` in a temporary
folder, then checks every name of docs/hdf5-schema.md ("decay"): root
provenance attributes, per-variant attributes, dataset names, dtypes, shapes
and storage (chunked, shuffle, gzip 4), and recomputes every curve here in
numpy, independently of the C++ code, from the papers' reference code:

  inv_freq       θ_k = b^(-2k/d); YaRN as HF transformers _compute_yarn_parameters
  allones_score  mscale²·Σ_k 2cos(nθ_k)/√d (RoPE); × ζ_k^(n/B) (xPos);
                 Σ_k cos(nω_k)/√d (sinusoidal); √d (none); √d + bias_h(n) (biases)
  rope_bound     RoFormer §3.4.3: (1/(d/2))·Σ_{m=1}^{d/2} |Σ_{l<m} e^{i n θ_l}|
  slopes         ALiBi fairseq get_slopes
  bias           ALiBi -m_h·n; KERPLE -b·ln(1 + a·n^p) or -a·n^p
  bucket         T5 _relative_position_bucket (float32 logs, as the reference)
  oscillation_*  analysis/oscillation.h, re-implemented

Curves must agree to 1e-9 relative to the curve's largest magnitude (a
pointwise relative error means nothing where a curve crosses zero). It also
runs --plot and checks the PNG and that no temporary file is left behind, and
that plot.py fails cleanly on bad input.

Exit 0: all checks pass; 1: a check failed (each failure printed); 77: skipped
(no numpy or h5py).
"""

import math
import os
import re
import subprocess
import sys
import tempfile
import zlib

try:
    import numpy as np
    import h5py
except ImportError as e:  # Debian's python3-h5py / python3-numpy missing
    print(f"check_decay_h5: skipped: {e} (install python3-h5py)")
    sys.exit(77)

RTOL = 1e-9
HERE = os.path.dirname(os.path.abspath(__file__))
PLOT_SCRIPT = os.path.join(os.path.dirname(HERE), "analysis", "plot.py")

failures = []
checks = 0


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        failures.append(msg)
    return bool(cond)


def close_rel(actual, expected, what, rtol=RTOL):
    """|actual - expected| <= rtol·max|expected| (per row for 2-D curves)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if not check(a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"):
        return False
    a2, e2 = np.atleast_2d(a), np.atleast_2d(e)
    scale = np.maximum(np.max(np.abs(e2), axis=-1, keepdims=True), np.finfo(float).tiny)
    err = np.abs(a2 - e2) / scale
    worst = float(np.max(err)) if err.size else 0.0
    if worst <= rtol:
        return check(True, "")
    idx = np.unravel_index(int(np.argmax(err)), err.shape)
    return check(False, f"{what}: relative error {worst:.3g} > {rtol:g} at index {tuple(int(i) for i in idx)} "
                        f"(got {a2[idx]!r}, expected {e2[idx]!r})")


def close_elementwise(actual, expected, what, rtol=RTOL):
    """|actual - expected| <= rtol·|expected| element by element (for positive tables)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if not check(a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"):
        return False
    err = np.abs(a - e) / np.maximum(np.abs(e), np.finfo(float).tiny)
    worst = float(np.max(err)) if err.size else 0.0
    if worst <= rtol:
        return check(True, "")
    i = int(np.argmax(err))
    return check(False, f"{what}: relative error {worst:.3g} > {rtol:g} at {i} (got {a.flat[i]!r}, "
                        f"expected {e.flat[i]!r})")


def run(cmd, env=None, expect_rc=0):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=600)
    if expect_rc is not None and p.returncode != expect_rc:
        failures.append(f"'{' '.join(cmd)}' exited {p.returncode} (expected {expect_rc}):\n"
                        f"  stdout: {p.stdout.strip()[-2000:]}\n  stderr: {p.stderr.strip()[-2000:]}")
    return p


# ------------------------------------------------- independent reference ---


def rope_theta(base, d):
    return base ** (-2.0 * np.arange(d // 2) / d)


def hf_yarn(base, d, factor, original_length, beta_fast=32.0, beta_slow=1.0, attention_factor=0.0):
    """transformers modeling_rope_utils._compute_yarn_parameters (truncate=True), in float64."""
    def find_correction_dim(num_rotations):
        return (d * math.log(original_length / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

    low = max(math.floor(find_correction_dim(beta_fast)), 0)
    high = min(math.ceil(find_correction_dim(beta_slow)), d - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(d // 2, dtype=np.float64) - low) / (high - low), 0, 1)
    extrapolation_factor = 1 - ramp
    pos_freqs = base ** (np.arange(0, d, 2, dtype=np.float64) / d)
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation_factor) + (1.0 / pos_freqs) * extrapolation_factor
    mscale = attention_factor if attention_factor > 0 else (1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0)
    return inv_freq, mscale


def fairseq_alibi_slopes(n):
    """ofirpress/attention_with_linear_biases, fairseq/models/transformer.py get_slopes."""
    def power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio ** i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + fairseq_alibi_slopes(2 * closest)[0::2][: n - closest]


def t5_bucket(n, bidirectional, num_buckets, max_distance):
    """HF T5Attention._relative_position_bucket with relative_position = j - i = -n, float32 logs."""
    rel = -np.asarray(n, dtype=np.int64)
    buckets = np.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).astype(np.int64) * num_buckets
        rel = np.abs(rel)
    else:
        rel = -np.minimum(rel, 0)
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    safe = np.maximum(rel, max_exact)  # only is_small entries change, and np.where below discards them
    large = max_exact + (np.log(safe.astype(np.float32) / np.float32(max_exact))
                         / np.float32(math.log(max_distance / max_exact))
                         * np.float32(num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(is_small, rel, large)


def rope_allones(theta, d, n, mscale=1.0, zeta=None, scale_base=512.0):
    out = np.empty(len(n))
    for lo in range(0, len(n), 4096):  # blocks keep the (n, d/2) temporaries small
        nn = n[lo:lo + 4096, None].astype(np.float64)
        terms = 2.0 * np.cos(nn * theta[None, :])
        if zeta is not None:
            terms = terms * np.power(zeta[None, :], nn / scale_base)
        out[lo:lo + 4096] = terms.sum(axis=1)
    return mscale * mscale * out / math.sqrt(d)


def roformer_bound(theta, n):
    out = np.empty(len(n))
    for lo in range(0, len(n), 4096):
        nn = n[lo:lo + 4096, None].astype(np.float64)
        S = np.cumsum(np.exp(1j * nn * theta[None, :]), axis=1)  # S_m, m = 1..d/2
        out[lo:lo + 4096] = np.abs(S).mean(axis=1)
    return out


def sinusoidal_allones(d, n):
    omega = 10000.0 ** (-2.0 * np.arange(d // 2) / d)
    return np.cos(n[:, None].astype(np.float64) * omega[None, :]).sum(axis=1) / math.sqrt(d)


def oscillation(s):
    """analysis/oscillation.h over [0, N]: (normalized_tv, sign_changes, first_nonpositive, negative_fraction)."""
    s = np.asarray(s, dtype=np.float64)
    diff = np.diff(s)
    rng = float(s.max() - s.min())
    nonpos = np.nonzero(s <= 0)[0]
    first = int(nonpos[0]) if len(nonpos) else -1
    negative = float(np.count_nonzero(s < 0)) / len(s)
    if rng <= 0:
        return 0.0, 0, first, negative
    tv = float(np.abs(diff).sum()) / rng
    signs = np.sign(diff[np.abs(diff) > 1e-9 * rng])
    changes = int(np.count_nonzero(signs[1:] != signs[:-1]))
    return tv, changes, first, negative


# ------------------------------------------------------------- the checks ---

STRING_ATTRS = {"label", "pe", "family", "scaling", "layout", "kerple"}
COMMON_ATTRS = {"label", "pe", "family", "head_dim", "heads", "max_distance"}
QK_ATTRS = {"base", "scaling", "factor", "original_length", "low_freq_factor", "high_freq_factor", "beta_fast",
            "beta_slow", "layout", "effective_base", "attention_scale"}
OSC_ATTRS = {"oscillation_range", "oscillation_tv", "oscillation_sign_changes", "first_nonpositive_distance",
             "negative_fraction"}


def expected_names(pe):
    """(datasets, attributes) docs/hdf5-schema.md lists for a variant of kind `pe`."""
    if pe in ("rope", "xpos"):
        ds = {"distance", "allones_score", "rope_bound", "inv_freq"} | ({"xpos_zeta"} if pe == "xpos" else set())
        at = COMMON_ATTRS | QK_ATTRS | OSC_ATTRS | ({"xpos_gamma", "xpos_scale_base"} if pe == "xpos" else set())
    elif pe == "alibi":
        ds, at = {"distance", "allones_score", "bias", "slopes"}, COMMON_ATTRS | OSC_ATTRS | {"alibi_distance_scale"}
    elif pe == "kerple":
        ds = {"distance", "allones_score", "bias"}
        at = COMMON_ATTRS | OSC_ATTRS | {"kerple", "kerple_a", "kerple_b", "kerple_p"}
    elif pe == "t5":
        ds, at = {"distance", "bucket"}, COMMON_ATTRS | {"t5_buckets", "t5_max_distance", "t5_bidirectional"}
    elif pe == "sinusoidal":
        ds, at = {"distance", "allones_score"}, COMMON_ATTRS | OSC_ATTRS | {"base"}
    else:  # none
        ds, at = {"distance", "allones_score"}, COMMON_ATTRS | OSC_ATTRS
    return ds, at


def check_provenance(f, where):
    a = f.attrs
    for name in ("schema_version", "pelab_version", "git_revision", "created_utc", "command", "command_line",
                 "config_ini"):
        check(name in a, f"{where}: root attribute '{name}' missing")
    if "schema_version" in a:
        v = a["schema_version"]
        check(isinstance(v, (int, np.integer)) and int(v) == 2, f"{where}: schema_version {v!r}, expected int 2")
    for name in ("pelab_version", "git_revision", "created_utc", "command", "command_line", "config_ini"):
        if name in a:
            check(type(a[name]) is str and a[name] != "",
                  f"{where}: root attribute '{name}' is {type(a[name]).__name__} {a[name]!r}, expected a non-empty "
                  "str (variable-length UTF-8)")
    if type(a.get("created_utc")) is str:
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["created_utc"]) is not None,
              f"{where}: created_utc {a['created_utc']!r} is not YYYY-MM-DDTHH:MM:SSZ")
    check(a.get("command") == "decay", f"{where}: command {a.get('command')!r}, expected 'decay'")
    if type(a.get("command_line")) is str:
        check(" decay " in a["command_line"] + " ", f"{where}: command_line {a['command_line']!r} lacks 'decay'")
    if type(a.get("config_ini")) is str:
        check("[pe]" in a["config_ini"], f"{where}: config_ini has no [pe] section:\n{a['config_ini']}")


def check_storage(ds, where):
    check(ds.chunks is not None, f"{where}: not chunked")
    check(ds.compression == "gzip" and ds.compression_opts == 4,
          f"{where}: compression {ds.compression} {ds.compression_opts}, expected gzip 4")
    check(ds.shuffle, f"{where}: no shuffle filter")


def creation_order(group):
    names = []
    group.id.links.iterate(lambda n: names.append(n.decode()) or None, idx_type=h5py.h5.INDEX_CRT_ORDER)
    return names


def check_oscillation(g, curve, where):
    rows = np.atleast_2d(curve)
    N = rows.shape[1] - 1
    for name in OSC_ATTRS:
        if not check(name in g.attrs, f"{where}: attribute '{name}' missing"):
            return
    check(list(g.attrs["oscillation_range"]) == [0, N],
          f"{where}: oscillation_range {list(g.attrs['oscillation_range'])}, expected [0, {N}]")
    tv, ch, first, negative = zip(*(oscillation(r) for r in rows))
    got_tv = np.atleast_1d(g.attrs["oscillation_tv"])
    got_ch = np.atleast_1d(g.attrs["oscillation_sign_changes"])
    got_first = np.atleast_1d(g.attrs["first_nonpositive_distance"])
    got_negative = np.atleast_1d(g.attrs["negative_fraction"])
    if curve.ndim == 1:
        for name in ("oscillation_tv", "oscillation_sign_changes", "first_nonpositive_distance", "negative_fraction"):
            check(np.ndim(g.attrs[name]) == 0, f"{where}: {name} should be a scalar for a 1-D curve")
    check(got_ch.dtype == np.int64 and got_first.dtype == np.int64,
          f"{where}: oscillation_sign_changes / first_nonpositive_distance should be int64")
    close_elementwise(got_tv, np.array(tv), f"{where} oscillation_tv")
    close_elementwise(got_negative, np.array(negative), f"{where} negative_fraction")
    check(list(got_ch) == list(ch), f"{where}: oscillation_sign_changes {list(got_ch)}, expected {list(ch)}")
    check(list(got_first) == list(first),
          f"{where}: first_nonpositive_distance {list(got_first)}, expected {list(first)}")


def float32_bias_note(got, exact):
    """A hint when a bias curve equals the exact formula evaluated in float32."""
    f32 = np.asarray(exact, dtype=np.float32).astype(np.float64)
    if np.array_equal(np.asarray(got), f32) or np.max(np.abs(np.asarray(got) - exact)) < 1e-6 * np.max(np.abs(exact)):
        return (" -- the values carry float32 rounding: the writer evaluates the kernels' float bias functors "
                "(bias_math.h) instead of the formula in double")
    return ""


def check_variant(g, name, d, H, N, opts):
    where = f"/decay/{name}"
    pe = g.attrs.get("pe")
    if not check(type(pe) is str, f"{where}: attribute 'pe' missing or not str"):
        return
    want_ds, want_at = expected_names(pe)
    have_ds = {k for k in g.keys() if isinstance(g[k], h5py.Dataset)}
    check(have_ds == want_ds, f"{where}: datasets {sorted(have_ds)}, expected {sorted(want_ds)}")
    have_at = set(g.attrs.keys())
    check(want_at <= have_at, f"{where}: attributes missing: {sorted(want_at - have_at)}")
    check(have_at <= want_at, f"{where}: attributes not in docs/hdf5-schema.md: {sorted(have_at - want_at)}")
    for k in STRING_ATTRS & have_at:
        check(type(g.attrs[k]) is str, f"{where}: attribute '{k}' is {type(g.attrs[k]).__name__}, expected str")
    check(g.attrs.get("label") == name, f"{where}: label {g.attrs.get('label')!r} differs from the group name")
    check(int(g.attrs.get("head_dim", -1)) == d and int(g.attrs.get("heads", -1)) == H
          and int(g.attrs.get("max_distance", -1)) == N, f"{where}: head_dim/heads/max_distance attributes wrong")
    family = {"rope": "qk_transform", "xpos": "qk_transform", "alibi": "score_bias", "t5": "score_bias",
              "kerple": "score_bias", "sinusoidal": "absolute", "none": "absolute"}.get(pe)
    check(g.attrs.get("family") == family, f"{where}: family {g.attrs.get('family')!r}, expected {family!r}")

    for k in have_ds:
        check_storage(g[k], f"{where}/{k}")
    shapes = {"distance": (N + 1,), "rope_bound": (N + 1,), "inv_freq": (d // 2,), "xpos_zeta": (d // 2,),
              "slopes": (H,), "bias": (H, N + 1), "bucket": (N + 1,),
              "allones_score": (H, N + 1) if pe in ("alibi", "kerple") else (N + 1,)}
    for k in have_ds & want_ds:
        want_dtype = np.int64 if k in ("distance", "bucket") else np.float64
        check(g[k].dtype == want_dtype, f"{where}/{k}: dtype {g[k].dtype}, expected {np.dtype(want_dtype)}")
        check(g[k].shape == shapes[k], f"{where}/{k}: shape {g[k].shape}, expected {shapes[k]}")
    if have_ds != want_ds or any(g[k].shape != shapes[k] for k in have_ds & want_ds):
        return  # the value checks below would only repeat the failure

    n = g["distance"][...]
    check(np.array_equal(n, np.arange(N + 1)), f"{where}/distance is not 0..{N}")
    sqrt_d = math.sqrt(d)

    if pe in ("rope", "xpos"):
        base = float(g.attrs["base"])
        check(math.isclose(base, opts["base"][name]), f"{where}: base {base}, expected {opts['base'][name]}")
        check(g.attrs["scaling"] == opts["scaling"], f"{where}: scaling {g.attrs['scaling']!r}")
        check(g.attrs["layout"] == "half-split", f"{where}: layout {g.attrs['layout']!r}, expected 'half-split'")
        if opts["scaling"] == "yarn":
            theta, mscale = hf_yarn(base, d, opts["factor"], opts["original_length"])
        else:
            theta, mscale = rope_theta(base, d), 1.0
        check(float(g.attrs["effective_base"]) == base, f"{where}: effective_base {g.attrs['effective_base']}, "
                                                        f"expected {base} (no NTK scaling)")
        close_elementwise(g["inv_freq"][...], theta, f"{where}/inv_freq")
        close_elementwise([g.attrs["attention_scale"]], [mscale], f"{where} attention_scale")
        zeta = None
        if pe == "xpos":
            gamma, B = float(g.attrs["xpos_gamma"]), float(g.attrs["xpos_scale_base"])
            check(gamma == 0.4 and B == 512.0, f"{where}: xpos_gamma {gamma}, xpos_scale_base {B}; expected 0.4, 512")
            zeta = (2.0 * np.arange(d // 2) + gamma * d) / ((1.0 + gamma) * d)
            close_elementwise(g["xpos_zeta"][...], zeta, f"{where}/xpos_zeta")
        expected = rope_allones(theta, d, n, mscale, zeta, float(g.attrs.get("xpos_scale_base", 512.0)))
        got = g["allones_score"][...]
        if not close_rel(got, expected, f"{where}/allones_score") and mscale != 1.0:
            if np.max(np.abs(got - expected / mscale ** 2)) <= RTOL * np.max(np.abs(expected)):
                failures[-1] += (f" -- the curve lacks the attention_scale² = {mscale ** 2:.6f} factor although the "
                                 f"group's attention_scale attribute is {mscale:.6f} (rope_forward multiplies cos and "
                                 "sin by mscale for xPos too)")
        close_rel(g["rope_bound"][...], roformer_bound(theta, n), f"{where}/rope_bound")
        check_oscillation(g, got, where)
    elif pe == "sinusoidal":
        check(float(g.attrs["base"]) == 10000.0, f"{where}: base {g.attrs['base']}, expected 10000")
        close_rel(g["allones_score"][...], sinusoidal_allones(d, n), f"{where}/allones_score")
        check_oscillation(g, g["allones_score"][...], where)
    elif pe == "none":
        close_rel(g["allones_score"][...], np.full(N + 1, sqrt_d), f"{where}/allones_score")
        check_oscillation(g, g["allones_score"][...], where)
    elif pe == "alibi":
        dscale = float(g.attrs["alibi_distance_scale"])
        check(dscale == 1.0, f"{where}: alibi_distance_scale {dscale}, expected 1")
        slopes = np.array(fairseq_alibi_slopes(H))
        close_elementwise(g["slopes"][...], slopes, f"{where}/slopes (fairseq get_slopes({H}))")
        exact = -slopes[:, None] * dscale * n[None, :].astype(np.float64)
        got = g["bias"][...]
        if not close_rel(got, exact, f"{where}/bias"):
            failures[-1] += float32_bias_note(got, exact)
        if not close_rel(g["allones_score"][...], sqrt_d + exact, f"{where}/allones_score"):
            failures[-1] += float32_bias_note(g["allones_score"][...] - sqrt_d, exact)
        check_oscillation(g, g["allones_score"][...], where)
    elif pe == "kerple":
        kind = g.attrs["kerple"]
        check(kind == opts["kerple"], f"{where}: kerple {kind!r}, expected {opts['kerple']!r}")
        per_head = {}
        for p in ("a", "b", "p"):
            v = np.atleast_1d(g.attrs[f"kerple_{p}"]).astype(np.float64)
            check(list(v) == list(opts[f"kerple_{p}"]), f"{where}: kerple_{p} {list(v)}, "
                                                          f"expected {opts[f'kerple_{p}']}")
            per_head[p] = np.broadcast_to(v if len(v) > 1 else v[:1], (H,))[:, None]
        r = np.power(n[None, :].astype(np.float64), per_head["p"])
        exact = -per_head["b"] * np.log1p(per_head["a"] * r) if kind == "log" else -per_head["a"] * r
        got = g["bias"][...]
        if not close_rel(got, exact, f"{where}/bias ({kind})"):
            failures[-1] += float32_bias_note(got, exact)
        if not close_rel(g["allones_score"][...], sqrt_d + exact, f"{where}/allones_score"):
            failures[-1] += float32_bias_note(g["allones_score"][...] - sqrt_d, exact)
        check_oscillation(g, g["allones_score"][...], where)
    elif pe == "t5":
        nb, md, bi = int(g.attrs["t5_buckets"]), int(g.attrs["t5_max_distance"]), int(g.attrs["t5_bidirectional"])
        check((nb, md, bi) == (32, 128, 0), f"{where}: t5 attributes {(nb, md, bi)}, expected the defaults (32, 128, 0)")
        want = t5_bucket(n, bool(bi), nb, md)
        got = g["bucket"][...]
        bad = np.nonzero(got != want)[0]
        check(len(bad) == 0, f"{where}/bucket differs from HF _relative_position_bucket at {len(bad)} distances, "
                             f"first n={bad[0] if len(bad) else -1}")
        check(not any(k.startswith("oscillation") for k in g.attrs), f"{where}: T5 has no curve, so no oscillation")


def check_seal(path, where):
    """The first 512 bytes: 'PELAB-SEAL 1', the file's length and the CRC-32 of the rest (core/hdf5_file.h)."""
    with open(path, "rb") as fh:
        data = fh.read()
    head = data[:512].split(b"\0", 1)[0].decode("ascii", "replace")
    m = re.fullmatch(r"PELAB-SEAL 1\nbytes (\d+)\ncrc32 ([0-9a-f]{8})\n", head)
    if not check(m is not None, f"{where}: no seal in the user block: {head!r}"):
        return
    check(int(m.group(1)) == len(data), f"{where}: seal says {m.group(1)} bytes, the file has {len(data)}")
    crc = zlib.crc32(data[512:]) & 0xFFFFFFFF
    check(int(m.group(2), 16) == crc, f"{where}: seal CRC-32 {m.group(2)}, zlib.crc32 of the rest {crc:08x}")


def check_file(path, d, H, N, opts, expected_variants):
    where = os.path.basename(path)
    check_seal(path, where)
    with h5py.File(path, "r") as f:
        check(f.userblock_size == 512, f"{where}: HDF5 user block of {f.userblock_size} bytes, expected 512")
        check_provenance(f, where)
        if not check("decay" in f, f"{where}: no /decay group"):
            return
        root = f["decay"]
        for k, want in (("head_dim", d), ("heads", H), ("max_distance", N)):
            v = root.attrs.get(k)
            check(isinstance(v, np.integer) and int(v) == want, f"{where}: /decay attribute {k} {v!r}, expected {want}")
        order = creation_order(root)
        check(order == expected_variants, f"{where}: variants written {order}, expected {expected_variants}")
        check(list(root.keys()) == order, f"{where}: h5py lists {list(root.keys())}, not creation order {order}")
        check(root.attrs.get("variants") == ",".join(order),
              f"{where}: /decay variants {root.attrs.get('variants')!r}, expected {','.join(order)!r}")
        check(set(root.attrs.keys()) == {"head_dim", "heads", "max_distance", "variants"},
              f"{where}: /decay attributes {sorted(root.attrs.keys())}")
        for name in order:
            check_variant(root[name], name, d, H, N, opts)
        if opts.get("fig4"):
            # arXiv 2309.16039 Fig. 4: base 10^4 falls to about zero, base 5·10^5 stays clearly positive.
            a10k = root["rope_b10000"]["allones_score"][N // 2:]
            a500k = root["rope_b500000"]["allones_score"][N // 2:]
            check(abs(float(a10k.mean())) < 1.0 and float(a500k.mean()) > float(a10k.mean()) + 1.5,
                  f"{where}: ABF Fig. 4 shape not reproduced: mean score over [N/2, N] is {a10k.mean():.3f} "
                  f"(base 1e4) and {a500k.mean():.3f} (base 5e5)")


def leftovers(folder, allowed):
    return sorted(set(os.listdir(folder)) - set(allowed))


def main():
    if len(sys.argv) != 2:
        print("usage: check_decay_h5.py PATH_TO_PELAB", file=sys.stderr)
        return 1
    pelab = os.path.abspath(sys.argv[1])
    if not os.access(pelab, os.X_OK):
        print(f"check_decay_h5: FAIL: '{pelab}' is not an executable pelab binary", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="pelab-check-decay-") as tmp:
        env = dict(os.environ, MPLBACKEND="Agg")
        env.pop("PELAB_PLOT_SCRIPT", None)
        env.pop("PELAB_PYTHON", None)

        # A: every kind, RoPE/xPos at two bases, 12 heads (ALiBi's non-power-of-2 slopes), ABF Fig. 4 setup.
        a = os.path.join(tmp, "a.h5")
        d, H, N = 128, 12, 32768
        run([pelab, "decay", "--pe", "rope,xpos,alibi,sinusoidal,t5,kerple,none", "--pe.base", "10000,500000",
             "--head-dim", str(d), "--heads", str(H), "--max-distance", str(N), "--out", a], env=env)
        variants_a = ["rope_b10000", "rope_b500000", "xpos_b10000", "xpos_b500000", "alibi", "sinusoidal", "t5",
                      "kerple_log", "none"]
        opts_a = {"scaling": "none", "base": {"rope_b10000": 1e4, "rope_b500000": 5e5, "xpos_b10000": 1e4,
                                              "xpos_b500000": 5e5},
                  "kerple": "log", "kerple_a": [1.0], "kerple_b": [1.0], "kerple_p": [1.0], "fig4": True}
        if check(os.path.isfile(a), f"run A wrote no {a}"):
            check_file(a, d, H, N, opts_a, variants_a)

        # B: YaRN (HF), xPos under YaRN, KERPLE power with per-head parameters; with --plot.
        b, png = os.path.join(tmp, "b.h5"), os.path.join(tmp, "b.png")
        d2, H2, N2 = 64, 4, 4096
        run([pelab, "decay", "--pe", "rope,xpos,kerple", "--pe.base", "10000", "--pe.scaling", "yarn",
             "--pe.factor", "4", "--pe.original-length", "2048", "--pe.kerple", "power",
             "--pe.kerple-a", "0.5,1,1.5,2", "--pe.kerple-p", "0.5,1,1.5,2",
             "--head-dim", str(d2), "--heads", str(H2), "--max-distance", str(N2), "--out", b, "--plot", png], env=env)
        opts_b = {"scaling": "yarn", "factor": 4.0, "original_length": 2048,
                  "base": {"rope_b10000_yarn_s4_L2048": 1e4, "xpos_b10000_yarn_s4_L2048": 1e4},
                  "kerple": "power", "kerple_a": [0.5, 1.0, 1.5, 2.0], "kerple_b": [1.0], "kerple_p": [0.5, 1.0, 1.5, 2.0]}
        if check(os.path.isfile(b), f"run B wrote no {b}"):
            check_file(b, d2, H2, N2, opts_b, ["rope_b10000_yarn_s4_L2048", "xpos_b10000_yarn_s4_L2048", "kerple_power"])
        if check(os.path.isfile(png), f"--plot wrote no {png}"):
            with open(png, "rb") as fh:
                head = fh.read(8)
            check(os.path.getsize(png) > 10000 and head == b"\x89PNG\r\n\x1a\n",
                  f"{png}: not a PNG or nearly empty ({os.path.getsize(png)} bytes)")
        left = leftovers(tmp, ["a.h5", "b.h5", "b.png"])
        check(not left, f"temporary files left in the output folder: {left}")

        # C: the HDF5 file must be closed (not locked) by the time pelab runs the plot script:
        # a probe in place of plot.py opens it with h5py's default file locking.
        probe, log = os.path.join(tmp, "probe.py"), os.path.join(tmp, "probe.log")
        with open(probe, "w") as fh:
            fh.write("import sys, h5py\n"
                     "h5, out = sys.argv[2], sys.argv[sys.argv.index('--out') + 1]\n"
                     "try:\n"
                     "    h5py.File(h5, 'r').close(); msg = 'ok'\n"
                     "except Exception as e:\n"
                     "    msg = str(e)\n"
                     f"open({log!r}, 'w').write(msg)\n"
                     "open(out, 'wb').write(b'probe')\n")
        c = os.path.join(tmp, "c.h5")
        run([pelab, "decay", "--pe", "alibi", "--max-distance", "64", "--out", c, "--plot",
             os.path.join(tmp, "c.png")], env=dict(env, PELAB_PLOT_SCRIPT=probe))
        msg = open(log).read() if os.path.exists(log) else "(the probe did not run)"
        check(msg == "ok", "pelab decay still holds the HDF5 file open while it runs the plot script, so readers "
                           f"with HDF5 file locking cannot open it: {msg}")

        # E: one head: score-bias curves keep their (H, N+1) shape and per-head oscillation arrays.
        e = os.path.join(tmp, "e.h5")
        run([pelab, "decay", "--pe", "alibi,kerple", "--heads", "1", "--head-dim", "16", "--max-distance", "64",
             "--out", e], env=env)
        if check(os.path.isfile(e), f"run E wrote no {e}"):
            check_file(e, 16, 1, 64, {"kerple": "log", "kerple_a": [1.0], "kerple_b": [1.0], "kerple_p": [1.0]},
                       ["alibi", "kerple_log"])

        # D: plot.py on bad input: one line 'plot.py: error: ...', exit 1, no traceback.
        other = os.path.join(tmp, "other.h5")
        with h5py.File(other, "w") as fh:
            fh["x"] = np.arange(3)
        for bad in (os.path.join(tmp, "missing.h5"), other):
            p = run(["/usr/bin/python3", PLOT_SCRIPT, "decay", bad, "--out", os.path.join(tmp, "bad.png")],
                    env=env, expect_rc=1)
            lines = p.stderr.strip().splitlines()
            check(len(lines) == 1 and lines[0].startswith("plot.py: error:") and "Traceback" not in p.stderr,
                  f"plot.py on {os.path.basename(bad)}: stderr should be one 'plot.py: error:' line, got {p.stderr!r}")
            check(not os.path.exists(os.path.join(tmp, "bad.png")), "plot.py wrote a PNG for bad input")
        left = leftovers(tmp, ["a.h5", "b.h5", "b.png", "c.h5", "c.png", "probe.py", "probe.log", "e.h5", "other.h5"])
        check(not left, f"temporary files left in the output folder: {left}")

    if failures:
        print(f"check_decay_h5: FAIL: {len(failures)} of {checks} checks failed")
        for m in failures:
            print(f"  - {m}")
        return 1
    print(f"check_decay_h5: ok: {checks} checks on 14 variants in 3 files (d=128 H=12 N=32768; YaRN d=64 H=4; H=1), "
          "curves agree with numpy to 1e-9, --plot PNG written atomically, plot.py errors cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
