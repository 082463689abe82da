#!/usr/bin/python3
"""Plots of pelab result files (HDF5), drawn with Debian's matplotlib + h5py.

    plot.py decay FILE.h5 --out FILE.png
    plot.py train RUN/run.h5 ... --out FILE.png
    plot.py eval RUN/run.h5 ... [--label NAME] --out FILE.png
    plot.py analyze RUN/run.h5 [--label NAME] --out FILE.png
    plot.py report DIR ... --out DIR    (what `pelab report` runs)

`pelab decay --plot PNG` runs this script; it can also be run by hand on any
file `pelab decay` wrote. The file layout is docs/hdf5-schema.md. Further kinds
(eval, analyze, report) are further subcommands of the same parser.

The picture is written to a temporary file in the target's folder and renamed
over the target, so a failed plot never leaves a half-written PNG behind.
Errors end with one line "plot.py: error: ..." on stderr and exit status 1.
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile

PROG = "plot.py"
DPI = 120
# Curves longer than this are thinned (per-bin min/max, which keeps the
# envelope of an oscillating curve) before drawing.
MAX_POINTS_PER_LINE = 60000


class PlotError(Exception):
    """A problem to report in one line, without a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the one-line, exit-1 convention."""

    def error(self, message):
        sys.stderr.write(f"{PROG}: error: {message} (see '{PROG} --help')\n")
        sys.exit(1)


# ---------------------------------------------------------------- helpers ---


def import_libraries():
    try:
        import numpy  # noqa: F401
        import h5py  # noqa: F401
    except ImportError as e:
        raise PlotError(f"needs numpy and h5py ({e}); install Debian's python3-h5py "
                        "(scripts/install-deps)") from None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError as e:
        raise PlotError(f"needs matplotlib ({e}); install Debian's python3-matplotlib "
                        "(scripts/install-deps)") from None


def as_str(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def attr(obj, name, default=None):
    if name not in obj.attrs:
        return default
    v = obj.attrs[name]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "shape") and v.shape == ():
        return v.item()
    return v


def fmt_num(x):
    """10000 -> '10000', 500000 -> '500000', 0.5 -> '0.5', 1.1386.. -> '1.139'."""
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def children_in_creation_order(group):
    """Names of the direct members of `group`, in the order they were written."""
    import h5py
    names = []
    try:
        group.id.links.iterate(lambda n: names.append(as_str(n)) or None,
                               idx_type=h5py.h5.INDEX_CRT_ORDER)
    except Exception:  # creation order not tracked: fall back to h5py's order
        names = list(group.keys())
    return names


def open_h5(path):
    import h5py
    if not os.path.exists(path):
        raise PlotError(f"'{path}' does not exist")
    if os.path.isdir(path):
        raise PlotError(f"'{path}' is a folder, not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        first = e
    # HDF5 refuses to open a file that another process holds locked (or on file
    # systems without locks, e.g. some NFS mounts). Reading needs no lock.
    if "lock" in str(first).lower():
        try:
            return h5py.File(path, "r", locking=False)
        except (OSError, TypeError):
            pass
    raise PlotError(f"cannot open '{path}' as HDF5 ({first}); pass a file that pelab wrote")


def decimate(x, y, max_points=MAX_POINTS_PER_LINE):
    """Thin a long curve for drawing on a log-x axis.

    Distances are split into geometric bins; a bin with more than two points is
    replaced by its minimum and maximum, in distance order, so the drawn band
    of an oscillating curve looks as it would with every point.
    """
    import numpy as np
    if len(x) <= max_points:
        return x, y
    xs = np.asarray(x, dtype=np.float64)
    lo, hi = max(xs[0], 1.0), xs[-1]
    edges = np.unique(np.searchsorted(xs, np.geomspace(lo, hi, max_points // 2)))
    edges = np.concatenate(([0], edges, [len(xs)]))
    keep = []
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a <= 2:
            keep.extend(range(a, b))
        elif b > a:
            seg = y[a:b]
            i, j = a + int(np.argmin(seg)), a + int(np.argmax(seg))
            keep.extend(sorted({i, j}))
    keep = np.unique(np.asarray(keep, dtype=np.int64))
    return x[keep], y[keep]


def save_atomically(fig, out):
    """Save `fig` to a temporary file beside `out`, then rename it over `out`."""
    out = os.path.abspath(out)
    folder = os.path.dirname(out)
    if not os.path.isdir(folder):
        raise PlotError(f"cannot write '{out}': folder '{folder}' does not exist")
    ext = os.path.splitext(out)[1].lower().lstrip(".")
    fmt = ext if ext in ("png", "svg", "pdf") else "png"
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=DPI)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, out)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise PlotError(f"cannot write '{out}': {e.strerror or e}") from None
        raise


# ------------------------------------------------------------------ decay ---


class Variant:
    """One group under /decay, read whole."""

    def __init__(self, name, g):
        import numpy as np
        self.name = name
        self.label = as_str(attr(g, "label", name))
        self.pe = as_str(attr(g, "pe", ""))
        self.family = as_str(attr(g, "family", ""))
        self.attrs = {k: attr(g, k) for k in g.attrs}
        if "distance" not in g:
            raise PlotError(f"group '/decay/{name}' has no 'distance' dataset; not a pelab decay file?")
        self.distance = np.asarray(g["distance"][...], dtype=np.int64)
        self.data = {}
        for key in ("allones_score", "rope_bound", "bias", "bucket", "slopes", "inv_freq", "xpos_zeta"):
            if key in g:
                self.data[key] = g[key][...]
        n = len(self.distance)
        for key in ("allones_score", "rope_bound", "bias", "bucket"):
            if key in self.data and self.data[key].shape[-1] != n:
                raise PlotError(f"'/decay/{name}/{key}' has {self.data[key].shape[-1]} distances, "
                                f"'distance' has {n}; the file is damaged")

    def a(self, key, default=None):
        return self.attrs.get(key, default)


def read_decay(path):
    f = open_h5(path)
    with f:
        command = attr(f, "command")
        if "decay" not in f or not hasattr(f["decay"], "keys"):
            what = f"written by 'pelab {command}'" if command else "no /decay group"
            raise PlotError(f"'{path}' is not a pelab decay file ({what}); make one with 'pelab decay'")
        root = f["decay"]
        meta = {k: attr(root, k) for k in root.attrs}
        meta["schema_version"] = attr(f, "schema_version")
        meta["git_revision"] = attr(f, "git_revision")
        variants = []
        for name in children_in_creation_order(root):
            obj = root[name]
            if hasattr(obj, "keys"):  # a group: one variant
                variants.append(Variant(name, obj))
        if not variants:
            raise PlotError(f"'{path}' has an empty /decay group; nothing to plot")
    return meta, variants


def variant_legend(v, head_dim):
    """Label plus the attributes that tell variants apart."""
    parts = []
    if v.family == "qk_transform":
        parts.append(f"base {fmt_num(v.a('base', 0))}")
        scaling = as_str(v.a("scaling", "none"))
        if scaling != "none":
            parts.append(f"{scaling} s={fmt_num(v.a('factor', 1))}")
            ol = v.a("original_length", 0)
            if ol and scaling not in ("linear", "ntk"):  # the others read L (as the label does)
                parts.append(f"L={ol}")
        eff = v.a("effective_base")
        if eff is not None and float(eff) != float(v.a("base", eff)):
            parts.append(f"b'={fmt_num(eff)}")
        scale = v.a("attention_scale", 1.0)
        if scale is not None and float(scale) != 1.0:
            parts.append(f"mscale {float(scale):.3f}")
        if v.pe == "xpos":
            parts.append(f"γ={fmt_num(v.a('xpos_gamma', 0))}, B={fmt_num(v.a('xpos_scale_base', 0))}")
    parts.append(f"d={v.a('head_dim', head_dim)}")
    first = v.a("first_nonpositive_distance")
    if first is not None and getattr(first, "shape", ()) == ():
        parts.append(f"first ≤0 at n={first}" if int(first) >= 0 else "stays >0")
    return f"{v.label} ({', '.join(parts)})"


def head_legend(v, h, all_heads=0):
    """Legend of head h of a score-bias variant; all_heads > 0: one line stands for every head."""
    who = f"all {all_heads} heads" if all_heads else f"h{h}"
    extra = ""
    if v.pe == "alibi":
        slopes = v.data.get("slopes")
        if slopes is not None and h < len(slopes):
            extra = f"m={float(slopes[h]):.4g}"
    elif v.pe == "kerple":
        vals = []
        for p in ("a", "b", "p"):
            arr = v.a(f"kerple_{p}")
            if arr is not None:
                arr = list(arr) if hasattr(arr, "__len__") else [arr]
                vals.append(f"{p}={fmt_num(arr[h] if len(arr) > 1 else arr[0])}")
        extra = ", ".join(vals)
    return f"{v.label} {who}" + (f" ({extra})" if extra else "")


def plot_decay(path, out):
    import numpy as np
    import matplotlib.pyplot as plt

    meta, variants = read_decay(path)
    head_dim = meta.get("head_dim", "?")
    max_distance = meta.get("max_distance", None)

    # Per-head score-bias curves go to the bias panel, even with one head.
    one_d = [v for v in variants if "allones_score" in v.data and v.family != "score_bias"
             and v.data["allones_score"].ndim == 1]
    rope = [v for v in variants if "rope_bound" in v.data]
    biased = [v for v in variants if "bias" in v.data]
    t5 = [v for v in variants if "bucket" in v.data]

    panels = []
    if one_d:
        panels.append("allones")
    if rope:
        panels.append("bound")
    if biased:
        panels.append("bias")
    if t5:
        panels.append("t5")
    if not panels:
        raise PlotError(f"'{path}' holds no curve this script knows how to draw")

    # The all-ones panel (the ABF Fig. 4 view) spans the top row; the others share the bottom row.
    top = panels[0] == "allones"
    below = panels[1:] if top else panels
    ncols = max(1, len(below))
    if top and below:
        fig = plt.figure(figsize=(max(13.0, 5.0 * ncols), 10.0))
        gs = fig.add_gridspec(2, ncols, height_ratios=[1.25, 1.0])
        axes = {"allones": fig.add_subplot(gs[0, :])}
        for i, p in enumerate(below):
            axes[p] = fig.add_subplot(gs[1, i])
    else:
        fig = plt.figure(figsize=(max(9.0, 6.5 * len(panels)), 5.8))
        gs = fig.add_gridspec(1, len(panels))
        axes = {p: fig.add_subplot(gs[0, i]) for i, p in enumerate(panels)}

    letters = iter("abcdef")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color_of = {v.name: colors[i % len(colors)] for i, v in enumerate(variants)}

    def log_x(ax, xlabel="distance n = i − j (log scale, n ≥ 1)"):
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        if max_distance:
            ax.set_xlim(1, max(2, int(max_distance)))
        ax.grid(True, which="major", alpha=0.3)

    def curve(v, y):
        x = v.distance
        m = x >= 1
        return decimate(x[m], np.asarray(y)[m])

    if "allones" in axes:
        ax = axes["allones"]
        for v in one_d:
            x, y = curve(v, v.data["allones_score"])
            ax.plot(x, y, lw=0.7, color=color_of[v.name], label=variant_legend(v, head_dim),
                    marker="." if len(x) <= 64 else None)
        ax.axhline(0.0, color="black", lw=0.9, ls="--", zorder=0, label="y = 0")
        log_x(ax)
        ax.set_ylabel("all-ones score q·k/√d")
        ax.set_title(f"({next(letters)}) Pre-softmax score with all-ones q, k after the position transform "
                     f"(cf. arXiv 2309.16039 Fig. 4), head_dim d={head_dim}")
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)

    if "bound" in axes:
        ax = axes["bound"]
        # The bound depends on the frequencies only: xPos shares RoPE's, so draw each curve once.
        drawn = {}
        for v in rope:
            key = np.asarray(v.data["rope_bound"]).tobytes()
            drawn.setdefault(key, []).append(v)
        for group in drawn.values():
            v = group[0]
            x, y = curve(v, v.data["rope_bound"])
            names = " = ".join(w.label for w in group)
            ax.plot(x, y, lw=0.7, color=color_of[v.name], label=f"{names} (d={v.a('head_dim', head_dim)})",
                    marker="." if len(x) <= 64 else None)
        log_x(ax)
        ax.set_ylabel("bound (1/(d/2))·Σ_m |S_m|")
        ax.set_title(f"({next(letters)}) RoFormer long-term decay bound, RoPE family")
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)

    if "bias" in axes:
        ax = axes["bias"]
        cmaps = ["viridis", "plasma", "cividis", "cool", "autumn"]
        styles = ["-", "--", "-.", ":"]
        n_lines = 0
        for vi, v in enumerate(biased):
            bias = np.atleast_2d(v.data["bias"])
            heads = bias.shape[0]
            same = heads > 1 and bool(np.all(bias == bias[0]))
            rows = [0] if same else range(heads)
            cmap = plt.get_cmap(cmaps[vi % len(cmaps)])
            for h in rows:
                x, y = curve(v, bias[h])
                c = cmap(0.1 + 0.8 * (h / max(1, heads - 1))) if not same else color_of[v.name]
                ax.plot(x, y, lw=1.0, ls=styles[vi % len(styles)], color=c,
                        label=head_legend(v, h, heads if same else 0), marker="." if len(x) <= 64 else None)
                n_lines += 1
        log_x(ax)
        ax.set_yscale("symlog", linthresh=1.0)
        lo = min(float(np.min(np.atleast_2d(v.data["bias"])[:, 1:])) for v in biased)
        hi = max(float(np.max(np.atleast_2d(v.data["bias"])[:, 1:])) for v in biased)
        ax.set_ylim(min(lo * 1.5, -1.0), max(hi * 1.5, 0.5))
        ax.set_ylabel("bias added to q·k/√d (symlog)")
        ax.set_title(f"({next(letters)}) Score bias per head (H={meta.get('heads', '?')})")
        ax.legend(loc="lower left", fontsize=6.5 if n_lines > 10 else 7.5, ncol=2 if n_lines > 12 else 1,
                  framealpha=0.85)

    if "t5" in axes:
        ax = axes["t5"]
        for v in t5:
            x, y = v.distance, np.asarray(v.data["bucket"])
            m = x >= 1
            x, y = x[m], y[m]
            # Draw only where the bucket changes (plus the ends): a step plot needs no more.
            keep = np.concatenate(([0], np.nonzero(np.diff(y))[0] + 1, [len(y) - 1]))
            lab = (f"{v.label} ({v.a('t5_buckets', '?')} buckets, max distance {v.a('t5_max_distance', '?')}"
                   f"{', bidirectional' if v.a('t5_bidirectional', 0) else ''})")
            ax.step(x[keep], y[keep], where="post", lw=1.2, color=color_of[v.name], label=lab)
            md = v.a("t5_max_distance")
            if md:
                ax.axvline(float(md), color=color_of[v.name], lw=0.8, ls=":", zorder=0)
        log_x(ax)
        ax.set_ylabel("bucket index")
        ax.set_title(f"({next(letters)}) T5 bucket of distance n")
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)

    rev = meta.get("git_revision")
    fig.suptitle(f"pelab decay: {len(variants)} variant(s), head_dim {head_dim}, heads {meta.get('heads', '?')}, "
                 f"n = 0..{max_distance}" + (f"  [{os.path.basename(path)}, rev {rev}]" if rev else ""),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    save_atomically(fig, out)
    plt.close(fig)


# ------------------------------------------------------------------ train ---


def read_run(path):
    """(label, train step, train loss, val step, val loss, attrs) of one run.h5."""
    import numpy as np
    with open_h5(path) as f:
        if "train" not in f or "val" not in f:
            raise PlotError(f"'{path}' has no /train and /val groups; pass a run.h5 written by 'pelab train'")
        a = {k: as_str(v) for k, v in f.attrs.items()}
        ts, tl = np.asarray(f["train/step"][...]), np.asarray(f["train/loss"][...], dtype=np.float64)
        vs, vl = np.asarray(f["val/step"][...]), np.asarray(f["val/loss"][...], dtype=np.float64)
    label = a.get("pe", "?")
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    if folder:
        label = folder
    return label, ts, tl, vs, vl, a


def smooth(y, window=25):
    """Trailing mean over `window` steps (the training loss is one batch per step)."""
    import numpy as np
    if len(y) < window:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    out = np.empty_like(y)
    out[window - 1:] = (c[window:] - c[:-window]) / window
    out[:window - 1] = c[1:window] / np.arange(1, window)
    return out


def plot_train(paths, out):
    import matplotlib.pyplot as plt
    runs = [read_run(p) for p in paths]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, ts, tl, vs, vl, a in runs:
        line, = ax1.plot(ts, smooth(tl), lw=1.2, label=label)
        ax2.plot(vs, vl, marker="o", ms=3, lw=1.2, color=line.get_color(),
                 label=f"{label}: {vl[-1]:.3f}" if len(vl) else label)
    for ax, title in ((ax1, "training loss (mean of the last 25 steps)"), (ax2, "validation loss (fixed windows)")):
        ax.set_xlabel("step")
        ax.set_ylabel("nats per byte")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_ylim(top=min(3.0, ax.get_ylim()[1]))
    ax2.legend(fontsize=8, title="final val loss", title_fontsize=8)
    a = runs[0][5]
    fig.suptitle(f"pelab train: d_model {a.get('d_model', '?')}, {a.get('n_layers', '?')} layers, "
                 f"{a.get('n_heads', '?')} heads, T {a.get('train_len', '?')}, {a.get('dataset_corpus', '?')}", fontsize=11)
    fig.tight_layout()
    save_atomically(fig, out)
    print("%-22s %-13s %7s %10s %10s %9s" % ("run", "pe", "steps", "train", "val", "seconds"))
    for label, ts, tl, vs, vl, a in runs:
        tail = tl[-10:]
        print("%-22s %-13s %7d %10.4f %10.4f %9s" % (label, a.get("pe", "?"), int(ts[-1]) if len(ts) else 0,
              float(tail.mean()) if len(tail) else float("nan"), float(vl[-1]) if len(vl) else float("nan"),
              fmt_num(float(a.get("train_seconds", "nan")))))


# ------------------------------------------------------------------- eval ---


def read_evals(paths, labels):
    """[(name, protocol, lengths, ppl, {L: loss_by_position}, train_len)] of /eval/<label>/<protocol>."""
    import numpy as np
    out = []
    for path in paths:
        run = os.path.basename(os.path.dirname(os.path.abspath(path))) or path
        with open_h5(path) as f:
            if "eval" not in f:
                raise PlotError(f"'{path}' has no /eval group; run 'pelab eval --run {os.path.dirname(path) or '.'}' first")
            names = labels or children_in_creation_order(f["eval"])
            for label in names:
                if label not in f["eval"]:
                    raise PlotError(f"'{path}' has no /eval/{label}; labels there: {', '.join(f['eval'].keys())}")
                g = f["eval"][label]
                T = int(attr(g, "train_len", 0) or 0)
                for protocol in children_in_creation_order(g):
                    pg = g[protocol]
                    lengths = np.asarray(pg["lengths"][...])
                    curves = {int(L): np.asarray(pg["loss_by_position"][L][...]) for L in pg["loss_by_position"]}
                    name = run if len(names) == 1 or label in ("nonoverlap", "sliding") else f"{run} {label}"
                    out.append((name, protocol, lengths, np.asarray(pg["ppl"][...]), curves, T, run))
    if not out:
        raise PlotError("no evaluations to plot")
    return out


def plot_eval(paths, labels, out):
    """Perplexity vs length (log x, one line per run and protocol, the training length marked) and the
    loss by position at the longest length (the curve that shows where a model breaks)."""
    import matplotlib.pyplot as plt
    import numpy as np
    evals = read_evals(paths, labels)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    train_lengths = set()
    colors = {}
    # The loss by position of nonoverlap evaluations; of sliding ones when there are no others.
    has_nonoverlap = any(e[1] == "nonoverlap" for e in evals)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for name, protocol, lengths, ppl, curves, T, run in evals:
        key = name  # one color per run and variant; the protocol sets the line style
        if key not in colors:
            colors[key] = palette[len(colors) % len(palette)]
        style = "-" if protocol == "nonoverlap" else "--"
        line, = ax1.plot(lengths, ppl, style, marker="o", ms=3, lw=1.3, color=colors[key],
                         label=f"{name} ({protocol})")
        if T:
            train_lengths.add(T)
        if curves and (protocol == "nonoverlap" or not has_nonoverlap):
            L = max(curves)
            y = curves[L]
            x = np.arange(len(y))
            # Windows of 2^k positions averaged, so a 100k-position curve stays readable.
            edges = np.unique(np.concatenate([[0], np.geomspace(1, len(y), num=min(len(y), 200)).astype(int)]))
            xs = [(edges[i] + edges[i + 1] - 1) / 2 for i in range(len(edges) - 1)]
            ys = [np.nanmean(y[edges[i]:edges[i + 1]]) for i in range(len(edges) - 1)]
            ax2.plot(np.asarray(xs) + 1, ys, lw=1.2, color=colors[key], label=f"{name} (L = {L})")
    for T in sorted(train_lengths):
        for ax in (ax1, ax2):
            ax.axvline(T, color="0.4", ls=":", lw=1)
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("evaluation length L (tokens)")
    ax1.set_ylabel("perplexity (per byte)")
    ax1.set_title("perplexity vs length (solid: nonoverlap, dashed: sliding; dotted: training length)", fontsize=9)
    ax2.set_xscale("log")
    ax2.set_xlabel("position in the window (1-based, log bins)")
    ax2.set_ylabel("mean loss (nats per byte)")
    ax2.set_title("loss by position at the longest length (%s)" % ("nonoverlap" if has_nonoverlap else
                  "sliding: only the scored positions"), fontsize=9)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:  # sliding-only evaluations draw no loss-by-position curve
            ax.legend(fontsize=6.5, ncol=2 if len(evals) > 8 else 1)
    fig.tight_layout()
    save_atomically(fig, out)
    # The table: perplexity by length, one row per run and protocol.
    all_lengths = sorted({int(L) for e in evals for L in e[2]})
    print("%-28s %-10s" % ("run", "protocol") + "".join("%9d" % L for L in all_lengths))
    for name, protocol, lengths, ppl, curves, T, run in evals:
        by = {int(L): p for L, p in zip(lengths, ppl)}
        print("%-28s %-10s" % (name, protocol) + "".join("%9.3f" % by[L] if L in by else "%9s" % "-" for L in all_lengths))


# ---------------------------------------------------------------- analyze ---


def plot_analyze(path, label, out):
    """Per layer: the measured mean score by distance (heads thin, their mean thick) over the encoding's
    theoretical all-ones curve, and the attention mass by distance; the training length marked."""
    import matplotlib.pyplot as plt
    import numpy as np
    with open_h5(path) as f:
        if "analyze" not in f:
            raise PlotError(f"'{path}' has no /analyze group; run 'pelab analyze' first")
        labels = children_in_creation_order(f["analyze"])
        label = label or (labels[-1] if labels else None)
        if label not in f["analyze"]:
            raise PlotError(f"'{path}' has no /analyze/{label}; labels there: {', '.join(labels)}")
        g = f["analyze"][label]
        T = int(attr(g, "train_len", 0) or 0)
        L = int(attr(g, "length", 0) or 0)
        pe = as_str(attr(g, "pe", "?"))
        theory = np.asarray(g["theory_allones_score"][...]) if "theory_allones_score" in g else None
        layers = sorted((k for k in g if k.startswith("layer")), key=lambda k: int(k[5:]))
        data = []
        for name in layers:
            lg = g[name]
            data.append((name, np.asarray(lg["mean_score_by_distance"][...]), np.asarray(lg["mass_by_distance"][...]),
                         float(attr(lg, "resolution_at_train_len", float("nan"))),
                         float(attr(lg, "resolution_at_length", float("nan")))))
    run = os.path.basename(os.path.dirname(os.path.abspath(path)))
    fig, axes = plt.subplots(2, len(data), figsize=(4.2 * len(data), 7), squeeze=False)
    n = np.arange(1, L + 1)  # distance + 1 on a log axis
    for c, (name, score, mass, rT, rL) in enumerate(data):
        ax = axes[0][c]
        for h in range(score.shape[0]):
            ax.plot(n, score[h], lw=0.5, alpha=0.5)
        ax.plot(n, np.nanmean(score, axis=0), lw=1.8, color="k", label="measured, head mean")
        if theory is not None:
            th = theory.mean(axis=0) if theory.ndim == 2 else theory
            ax2 = ax.twinx()
            ax2.plot(n, th[:L], lw=1.0, color="tab:red", ls="--", label="theory (all-ones q, k)")
            ax2.set_ylabel("theory score", color="tab:red", fontsize=8)
            ax2.tick_params(axis="y", labelcolor="tab:red", labelsize=7)
        ax.set_xscale("log")
        ax.set_title(f"{name}: mean q.k by distance (R {rT:.3f} at T, {rL:.3f} at L)", fontsize=8)
        ax.set_xlabel("distance + 1")
        ax.legend(fontsize=7, loc="lower left")
        ax = axes[1][c]
        for h in range(mass.shape[0]):
            ax.plot(n, np.maximum(mass[h], 1e-12), lw=0.8, label=f"head {h}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{name}: attention mass by distance", fontsize=8)
        ax.set_xlabel("distance + 1")
        if c == 0:
            ax.legend(fontsize=6, ncol=2)
        for a in (axes[0][c], axes[1][c]):
            if T:
                a.axvline(T, color="0.4", ls=":", lw=1)
            a.grid(alpha=0.3, which="both")
    fig.suptitle(f"pelab analyze: {run} ({pe}), L = {L}, training length T = {T} (dotted)", fontsize=10)
    fig.tight_layout()
    save_atomically(fig, out)


# ----------------------------------------------------------------- report ---


def find_runs(folder):
    """run.h5 files under `folder` (itself a run folder, a sweep or a reproduce folder), sorted."""
    found = []
    if os.path.isfile(os.path.join(folder, "run.h5")):
        return [os.path.join(folder, "run.h5")]
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "logs" and not d.startswith("."))
        if "run.h5" in files:
            found.append(os.path.join(root, "run.h5"))
            dirs[:] = []
    return sorted(found)


def find_sweeps(folder):
    """Folders under `folder` (or itself) holding a sweep's summary.h5, sorted; run folders are not entered."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in ("logs", "bench") and not d.startswith("."))
        if "run.h5" in files:
            dirs[:] = []
            continue
        if "summary.h5" in files:
            found.append(root)
    return sorted(found)


def sweep_runs(sweep):
    """run.h5 of every point a sweep's summary.h5 names, and of their fine-tunes (<dir>+LABEL), that exists."""
    paths = []
    with open_h5(os.path.join(sweep, "summary.h5")) as f:
        dirs = [f["points"][p].attrs["dir"] for p in f["points"]] if "points" in f else []
    for d in dirs:
        d = d.decode() if isinstance(d, bytes) else str(d)
        parent, name = os.path.split(d)
        candidates = [d] + sorted(os.path.join(parent, e) for e in (os.listdir(parent) if os.path.isdir(parent) else [])
                                  if e.startswith(name + "+"))
        paths.extend(os.path.join(c, "run.h5") for c in candidates if os.path.isfile(os.path.join(c, "run.h5")))
    return paths


def eval_labels(path):
    with open_h5(path) as f:
        return [l for l in children_in_creation_order(f["eval"])
                if "probe_accuracy" not in f["eval"][l]] if "eval" in f else []


def analyze_labels(path):
    with open_h5(path) as f:
        return children_in_creation_order(f["analyze"]) if "analyze" in f else []


def slug(text):
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-") or "report"


def report(folders, out):
    """A markdown report of run, sweep and reproduce folders: their summaries and verdicts, and PNG + SVG plots
    of training curves, perplexity vs length with loss by position (per evaluation label) and measured-vs-theory
    attention (per run)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not os.path.isdir(out):
        raise PlotError(f"output folder '{out}' does not exist")
    lines = ["# pelab report", "", "Folders: " + ", ".join(f"`{f}`" for f in folders), ""]
    figures = 0

    def figure(draw, name, caption):
        nonlocal figures
        for ext in ("png", "svg"):
            with contextlib.redirect_stdout(io.StringIO()):  # the plots' own tables
                draw(os.path.join(out, f"{name}.{ext}"))
            plt.close("all")
        lines.extend([f"![{caption}]({name}.png)", "", f"*{caption}* ([SVG]({name}.svg))", ""])
        figures += 1

    for folder in folders:
        if not os.path.isdir(folder):
            raise PlotError(f"'{folder}' is not a folder; pass run, sweep or reproduce folders")
        sweeps = find_sweeps(folder)
        runs = find_runs(folder)
        if not runs and not sweeps:
            raise PlotError(f"'{folder}' holds no run.h5; pass folders written by pelab train, sweep or reproduce")
        # A sweep's runs are the points its summary.h5 names (they may live in a shared runs folder, elsewhere);
        # runs of no sweep are grouped by the folder above them.
        groups = {}
        for sweep in sweeps:
            groups[os.path.abspath(sweep)] = sweep_runs(sweep)
        claimed = {os.path.abspath(r) for paths in groups.values() for r in paths}
        for r in runs:
            if os.path.abspath(r) not in claimed:
                groups.setdefault(os.path.dirname(os.path.dirname(os.path.abspath(r))), []).append(r)
        for group, paths in sorted(groups.items()):
            # Named from the given folder's parent: "micro", "reproduce/alibi-extrapolation/quick".
            title = os.path.relpath(group, os.path.dirname(os.path.abspath(folder)))
            if title == ".":  # a single run folder was given
                title = os.path.basename(os.path.abspath(folder))
            lines.extend([f"## {title}", ""])
            for extra in ("verdict.md", "summary.md"):
                p = os.path.join(group, extra)
                if os.path.isfile(p):
                    text = open(p, encoding="utf-8").read().strip().splitlines()
                    # Demote the file's own headings below this section's.
                    lines.extend(("###" + t.lstrip("#")) if t.startswith("#") else t for t in text)
                    lines.append("")
            if not paths:
                continue  # benchmarks only, or nothing run yet
            base = slug(title.replace(os.sep, "-"))
            figure(lambda o: plot_train(paths, o), f"{base}-train", f"{title}: training and validation loss")
            labels = sorted({l for p in paths for l in eval_labels(p)})
            for label in labels:
                with_label = [p for p in paths if label in eval_labels(p)]
                figure(lambda o: plot_eval(with_label, [label], o), f"{base}-eval-{slug(label)}",
                       f"{title}: perplexity vs length and loss by position, /eval/{label}")
            for p in paths:
                for label in analyze_labels(p)[:1]:
                    run = os.path.basename(os.path.dirname(p))
                    figure(lambda o: plot_analyze(p, label, o), f"{base}-analyze-{slug(run)}",
                           f"{title}/{run}: measured mean score by distance over theory, attention mass, /analyze/{label}")
    md = os.path.join(out, "report.md")
    fd, tmp = tempfile.mkstemp(prefix=".report.md.", suffix=".tmp", dir=out)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, md)
    print(f"report: {md} ({figures} figures, PNG and SVG)")


# ------------------------------------------------------------------- main ---


def build_parser():
    p = Parser(prog=PROG, description="Plot pelab result files (HDF5).")
    sub = p.add_subparsers(dest="kind", metavar="KIND", parser_class=Parser)
    sub.required = True
    d = sub.add_parser("decay", help="theoretical decay curves written by 'pelab decay'",
                       description="Draw the curves of a 'pelab decay' file.")
    d.add_argument("h5", metavar="FILE.h5", help="file written by 'pelab decay --out'")
    d.add_argument("--out", required=True, metavar="FILE.png", help="picture to write (PNG; .svg/.pdf also work)")
    d.set_defaults(run=lambda a: plot_decay(a.h5, a.out))
    t = sub.add_parser("train", help="loss curves of runs written by 'pelab train'",
                       description="Draw training and validation loss of one or more runs; print a summary table.")
    t.add_argument("h5", nargs="+", metavar="RUN/run.h5", help="run files written by 'pelab train'")
    t.add_argument("--out", required=True, metavar="FILE.png", help="picture to write (PNG; .svg/.pdf also work)")
    t.set_defaults(run=lambda a: plot_train(a.h5, a.out))
    e = sub.add_parser("eval", help="perplexity vs length and loss by position from 'pelab eval'",
                       description="Draw /eval results of one or more run.h5 files.")
    e.add_argument("h5", nargs="+", metavar="RUN/run.h5", help="run files holding /eval groups")
    e.add_argument("--label", action="append", help="evaluation label(s) to draw (default: all)")
    e.add_argument("--out", required=True, metavar="FILE.png", help="picture to write (PNG; .svg/.pdf also work)")
    e.set_defaults(run=lambda a: plot_eval(a.h5, a.label, a.out))
    z = sub.add_parser("analyze", help="measured vs theoretical decay and attention mass from 'pelab analyze'",
                       description="Draw one /analyze group of a run.h5.")
    z.add_argument("h5", metavar="RUN/run.h5", help="run file holding /analyze groups")
    z.add_argument("--label", help="analysis label to draw (default: the last written)")
    z.add_argument("--out", required=True, metavar="FILE.png", help="picture to write (PNG; .svg/.pdf also work)")
    z.set_defaults(run=lambda a: plot_analyze(a.h5, a.label, a.out))
    r = sub.add_parser("report", help="markdown report with PNG + SVG plots of run, sweep and reproduce folders",
                       description="Write DIR/report.md and its figures (what 'pelab report' runs).")
    r.add_argument("folders", nargs="+", metavar="FOLDER", help="run, sweep or reproduce folders")
    r.add_argument("--out", required=True, metavar="DIR", help="existing folder for report.md and the figures")
    r.set_defaults(run=lambda a: report(a.folders, a.out))
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        import_libraries()
        args.run(args)
    except PlotError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: error: interrupted\n")
        return 1
    except Exception as e:  # a bug or an unexpected file: still one line, no traceback
        sys.stderr.write(f"{PROG}: error: {type(e).__name__}: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
