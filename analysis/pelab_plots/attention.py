"""Results of `pelab analyze`: per run, the measured mean score by distance over the encoding's theory and
the attention mass by distance, per layer; across runs, the attention resolution and oscillation indices."""

import os

from .common import PlotError, as_str, attr, children_in_creation_order, open_h5, save_atomically


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


def read_indices(paths, label):
    """[(run, pe, T, L, {index: per-layer values})] of /analyze/<label> (default: each file's first label) of
    each run.h5 that has one; the indices are R(ŝ) within T and over L, and the oscillation index (normalized
    total variation of the head-mean ŝ, docs/oscillation.md) within and beyond T."""
    import numpy as np
    out = []
    for path in paths:
        run = os.path.basename(os.path.dirname(os.path.abspath(path))) or path
        with open_h5(path) as f:
            labels = children_in_creation_order(f["analyze"]) if "analyze" in f else []
            if label and label not in labels:
                raise PlotError(f"'{path}' has no /analyze/{label}; labels there: {', '.join(labels) or 'none'}")
            if not labels:
                continue
            g = f["analyze"][label or labels[0]]
            layers = sorted((k for k in g if k.startswith("layer")), key=lambda k: int(k[5:]))
            values = {key: np.asarray([float(attr(g[l], key, float("nan"))) for l in layers])
                      for key in ("resolution_at_train_len", "resolution_at_length",
                                  "oscillation_within_tv", "oscillation_beyond_tv")}
            out.append((run, as_str(attr(g, "pe", "?")), int(attr(g, "train_len", 0) or 0),
                        int(attr(g, "length", 0) or 0), values))
    if not out:
        raise PlotError("no analyses to plot; run 'pelab analyze --run RUN --length L' first")
    return out


def plot_indices(paths, label, out):
    """Per run, the layers' attention resolution within T and over L (xPos's claim: RoPE's falls beyond T) and
    their oscillation index within and beyond T (ABF's claim: a larger RoPE base oscillates less); bars are
    the mean over layers, dots the layers."""
    import matplotlib.pyplot as plt
    import numpy as np
    rows = read_indices(paths, label)
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 1.4 * len(rows) + 5.0), 4.6))
    x = np.arange(len(rows))
    panels = ((axes[0], ("resolution_at_train_len", "resolution_at_length"), ("n < T", "n < L"),
               "attention resolution R(ŝ) (arXiv 2212.10554 eq. 3)"),
              (axes[1], ("oscillation_within_tv", "oscillation_beyond_tv"), ("within T", "beyond T"),
               "oscillation index of ŝ (normalized total variation)"))
    for ax, keys, names, title in panels:
        for k, (key, name) in enumerate(zip(keys, names)):
            offset = (k - 0.5) * 0.38
            means = [np.nanmean(r[4][key]) if np.any(np.isfinite(r[4][key])) else np.nan for r in rows]
            ax.bar(x + offset, means, width=0.36, label=name, alpha=0.75)
            for i, r in enumerate(rows):
                ax.plot(np.full(len(r[4][key]), x[i] + offset), r[4][key], "k.", ms=4)
        ax.set_xticks(x)
        ax.set_xticklabels([r[0] for r in rows], rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    Ts = sorted({r[2] for r in rows})
    Ls = sorted({r[3] for r in rows})
    fig.suptitle(f"pelab analyze: T = {', '.join(map(str, Ts))}, L = {', '.join(map(str, Ls))} "
                 "(bars: mean over layers; dots: layers)", fontsize=10)
    fig.tight_layout()
    save_atomically(fig, out)
    print("%-28s %-13s %8s %8s %10s %10s" % ("run", "pe", "R(T)", "R(L)", "osc<T", "osc>=T"))
    for run, pe, T, L, v in rows:
        print("%-28s %-13s %8.4f %8.4f %10.4f %10.4f" % (run, pe, *(float(np.nanmean(v[k])) for k in (
            "resolution_at_train_len", "resolution_at_length", "oscillation_within_tv", "oscillation_beyond_tv"))))
