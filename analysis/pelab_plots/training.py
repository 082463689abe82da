"""Training and validation loss of runs written by `pelab train`."""

import os

from .common import PlotError, as_str, fmt_num, open_h5, save_atomically


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
