"""Results of `pelab eval`: perplexity vs length with the loss by position, and probe accuracy heat maps."""

import os
import re

from .common import PlotError, attr, children_in_creation_order, open_h5, save_atomically


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


# Two-sided 95% critical values of Student's t by degrees of freedom (any table); the normal's past 30.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def seed_groups(evals):
    """Runs that differ only in their seed (a sweep's "_train.seed-K" point names) as one group each:
    [(name, protocol, lengths, ppl mean, lo, hi, mean loss-by-position curves, T, seeds)]. The mean is the
    geometric mean over seeds and [lo, hi] the 95% t-interval of ln ppl (None with one seed)."""
    import numpy as np
    groups = {}
    for e in evals:
        name, protocol = re.sub(r"_train\.seed-[0-9]+", "", e[0]), e[1]
        groups.setdefault((name, protocol), []).append(e)
    out = []
    for (name, protocol), members in groups.items():
        lengths = members[0][2]
        if len(members) == 1 or any(len(m[2]) != len(lengths) or np.any(m[2] != lengths) for m in members):
            for m in members:
                out.append((m[0], m[1], m[2], m[3], None, None, m[4], m[5], 1))
            continue
        logs = np.log(np.stack([m[3] for m in members]))
        n = len(members)
        mean = logs.mean(axis=0)
        half = _T975[min(n - 2, len(_T975) - 1)] * logs.std(axis=0, ddof=1) / np.sqrt(n) if n <= 31 else \
            1.96 * logs.std(axis=0, ddof=1) / np.sqrt(n)
        curves = {}
        for L in members[0][4]:
            if all(L in m[4] for m in members):
                curves[L] = np.nanmean(np.stack([m[4][L] for m in members]), axis=0)
        out.append((f"{name} ({n} seeds)", protocol, lengths, np.exp(mean), np.exp(mean - half), np.exp(mean + half),
                    curves, members[0][5], n))
    return out


def plot_eval(paths, labels, out):
    """Perplexity vs length (log x, one line per run and protocol, the training length marked) and the
    loss by position at the longest length (the curve that shows where a model breaks). Runs that differ only
    by seed are drawn as one line, their geometric mean, with a band: the 95% interval over the seeds."""
    import matplotlib.pyplot as plt
    import numpy as np
    evals = seed_groups(read_evals(paths, labels))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    train_lengths = set()
    colors = {}
    # The loss by position of nonoverlap evaluations; of sliding ones when there are no others.
    has_nonoverlap = any(e[1] == "nonoverlap" for e in evals)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for name, protocol, lengths, ppl, lo, hi, curves, T, seeds in evals:
        key = name  # one color per run and variant; the protocol sets the line style
        if key not in colors:
            colors[key] = palette[len(colors) % len(palette)]
        style = "-" if protocol == "nonoverlap" else "--"
        line, = ax1.plot(lengths, ppl, style, marker="o", ms=3, lw=1.3, color=colors[key],
                         label=f"{name} ({protocol})")
        if lo is not None:
            ax1.fill_between(lengths, lo, hi, color=colors[key], alpha=0.2, lw=0)
        if T:
            train_lengths.add(T)
        if curves and (protocol == "nonoverlap" or not has_nonoverlap):
            L = max(curves)
            y = curves[L]
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
    ax1.set_title("perplexity vs length (solid: nonoverlap, dashed: sliding; dotted: training length;\n"
                  "bands: 95% interval over seeds)", fontsize=9)
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
    for name, protocol, lengths, ppl, lo, hi, curves, T, seeds in evals:
        by = {int(L): p for L, p in zip(lengths, ppl)}
        print("%-28s %-10s" % (name, protocol) + "".join("%9.3f" % by[L] if L in by else "%9s" % "-" for L in all_lengths))
        if lo is not None:
            band = {int(L): (a, b) for L, a, b in zip(lengths, lo, hi)}
            print("%-28s %-10s" % ("  95% over seeds", "") +
                  "".join("%9s" % ("%.3g-%.3g" % band[L]) if L in band else "%9s" % "-" for L in all_lengths))


def read_probes(paths, labels):
    """[(name, task, lengths, depths, accuracy (K, D), train_len, trials)] of the probe evaluations
    /eval/<label> (those holding probe_accuracy) of each run.h5; `labels` empty: every probe."""
    import numpy as np
    out = []
    for path in paths:
        run = os.path.basename(os.path.dirname(os.path.abspath(path))) or path
        with open_h5(path) as f:
            present = children_in_creation_order(f["eval"]) if "eval" in f else []
            probes = [l for l in present if "probe_accuracy" in f["eval"][l]]
            for label in labels or []:
                if label not in present:
                    raise PlotError(f"'{path}' has no /eval/{label}; probes there: {', '.join(probes) or 'none'}")
                if label not in probes:
                    raise PlotError(f"'/eval/{label}' of '{path}' is a perplexity evaluation, not a probe; "
                                    "draw it with the 'eval' kind")
            for label in labels or probes:
                g = f["eval"][label]
                acc = np.atleast_2d(np.asarray(g["probe_accuracy"][...], dtype=np.float64))
                lengths = np.asarray(g["probe_lengths"][...], dtype=np.int64)
                depths = np.asarray(g["probe_depths"][...], dtype=np.float64)
                if acc.shape != (len(lengths), len(depths)):
                    raise PlotError(f"'/eval/{label}/probe_accuracy' of '{path}' has shape {acc.shape}, expected "
                                    f"({len(lengths)}, {len(depths)}); the file is damaged")
                name = run if len(labels or probes) == 1 else f"{run} {label}"
                out.append((name, str(attr(g, "probe", "?")), lengths, depths, acc,
                            int(attr(g, "train_len", 0) or 0), int(attr(g, "trials", 0) or 0)))
    if not out:
        raise PlotError("no probe evaluations to plot; run 'pelab eval --run RUN --probe passkey|copy|mqar' first")
    return out


def plot_probe(paths, labels, out):
    """One heat map per run and probe: exact-match accuracy by input length (rows, the training length marked)
    and needle depth (columns; one column for copy and mqar, which have no depth), each cell annotated."""
    import matplotlib.pyplot as plt
    import numpy as np
    probes = read_probes(paths, labels)
    cols = min(4, len(probes))
    rows = (len(probes) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 + 3.4 * cols, 0.8 + 3.2 * rows), squeeze=False,
                             constrained_layout=True)
    image = None
    for k, (ax, (name, task, lengths, depths, acc, T, trials)) in enumerate(zip(axes.flat, probes)):
        image = ax.imshow(acc, origin="lower", aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis")
        for i in range(acc.shape[0]):
            for j in range(acc.shape[1]):
                ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if acc[i, j] < 0.6 else "black")
        ax.set_yticks(range(len(lengths)))
        ax.set_yticklabels([str(int(L)) for L in lengths], fontsize=7)
        if np.all(np.isnan(depths)):
            ax.set_xticks([])
            ax.set_xlabel(f"({task}: no needle depth)", fontsize=8)
        else:
            ax.set_xticks(range(len(depths)))
            ax.set_xticklabels([f"{d:g}" for d in depths], fontsize=7)
            ax.set_xlabel("needle depth", fontsize=8)
        if k % cols == 0:
            ax.set_ylabel("input length L", fontsize=8)
        beyond = np.nonzero(lengths > T)[0] if T else []
        if len(beyond) and beyond[0] > 0:  # a line between the lengths within T and those beyond it
            ax.axhline(beyond[0] - 0.5, color="red", lw=1.2, ls="--")
        ax.set_title(f"{name}: {task}" + (f", {trials} per cell" if trials else "") + (f", T = {T}" if T else ""),
                     fontsize=8)
    for ax in list(axes.flat)[len(probes):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes.flat)[:len(probes)], shrink=0.9, label="exact-match accuracy")
    fig.suptitle("probe accuracy (teacher-forced greedy; dashed: the training length)", fontsize=10)
    save_atomically(fig, out)
    for name, task, lengths, depths, acc, T, trials in probes:
        print("%-28s %-8s" % (name, task) + "".join(" %11s" % ("-" if np.isnan(d) else f"depth {d:g}") for d in depths))
        for L, row in zip(lengths, acc):
            print("%-28s %-8d" % ("", int(L)) + "".join(" %11.2f" % a for a in row))


def _trained_max_length(run_dir):
    """--data.task-max-length of a run from its config.ini (0 when absent or the task's default)."""
    try:
        with open(os.path.join(run_dir, "config.ini")) as f:
            text = f.read()
    except OSError:
        return 0
    section, value = "", 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            if (section, k) in (("data", "task-max-length"), ("", "data.task-max-length")):
                value = int(v) if v.isdigit() else 0
    return value


def plot_tasks(paths, labels, out):
    """Task-suite accuracy against length: one panel per task, one line per arm (the run name less its
    data.task and train.seed parts, so a sweep's seeds pool), the mean exact match over seeds with a band from
    the lowest to the highest seed, every label of a run merged by length; dashed: the longest trained L."""
    import matplotlib.pyplot as plt
    import numpy as np
    probes = [p for p in read_probes(paths, labels) if p[1].startswith("task:")]
    if not probes:
        raise PlotError("no task evaluations to plot; run 'pelab eval --run RUN --task NAME' first")
    by_task = {}  # task -> arm -> run -> {L: exact}
    trained = {}
    for path, name in zip(paths, [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in paths]):
        trained[name] = _trained_max_length(os.path.dirname(os.path.abspath(path)))
    for name, task, lengths, _depths, acc, _T, _trials in probes:
        run = name.split(" ")[0]
        arm = re.sub(r"_?train\.seed-[0-9]+", "", re.sub(r"data\.task-[a-z-]+?(_|$)", "", run)) or "run"
        cells = by_task.setdefault(task[5:], {}).setdefault(arm, {}).setdefault(run, {})
        for L, a in zip(lengths, acc[:, 0]):
            cells[int(L)] = float(a)
    tasks = sorted(by_task)
    fig, axes = plt.subplots(1, len(tasks), figsize=(0.8 + 4.2 * len(tasks), 3.6), squeeze=False, constrained_layout=True)
    for ax, task in zip(axes.flat, tasks):
        top = 0
        for arm, runs in sorted(by_task[task].items()):
            Ls = sorted(set.intersection(*(set(c) for c in runs.values())))
            ys = np.array([[runs[r][L] for L in Ls] for r in runs])
            line, = ax.plot(Ls, ys.mean(axis=0), marker="o", ms=3, label=f"{arm} ({len(runs)} seeds)")
            if len(runs) > 1:
                ax.fill_between(Ls, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)
            top = max(top, max(trained.get(r, 0) for r in runs))
        if top:
            ax.axvline(top, color="red", lw=1, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("length L (as the task counts it)", fontsize=8)
        ax.set_ylabel("exact match", fontsize=8)
        ax.set_title(task, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("task accuracy against length (mean over seeds, band: lowest to highest seed; dashed: longest trained L)",
                 fontsize=9)
    save_atomically(fig, out)
    for task in tasks:
        for arm, runs in sorted(by_task[task].items()):
            Ls = sorted(set.intersection(*(set(c) for c in runs.values())))
            print(f"{task:18s} {arm:28s} " + " ".join(f"L{L}={np.mean([runs[r][L] for r in runs]):.2f}" for L in Ls))
