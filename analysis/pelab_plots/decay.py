"""Theoretical decay curves of a `pelab decay` file: the all-ones score (arXiv 2309.16039 Fig. 4), RoFormer's
bound, score biases per head, T5 buckets."""

import os

from .common import PlotError, as_str, attr, children_in_creation_order, decimate, fmt_num, open_h5, save_atomically


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
