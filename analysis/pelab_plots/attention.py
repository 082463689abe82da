"""Results of `pelab analyze`: the measured mean score by distance over the encoding's theory, and the
attention mass by distance, per layer."""

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
