"""`pelab report`: a markdown report of run, sweep and reproduce folders with PNG + SVG figures."""

import contextlib
import io
import os
import tempfile

from .attention import plot_analyze, plot_indices
from .common import PlotError, children_in_creation_order, open_h5
from .evaluation import plot_eval, plot_probe
from .training import plot_train


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


def eval_labels(path, probes=False):
    """The /eval labels of a run.h5 in creation order: perplexity evaluations, or probes when `probes`."""
    with open_h5(path) as f:
        return [l for l in children_in_creation_order(f["eval"])
                if ("probe_accuracy" in f["eval"][l]) == probes] if "eval" in f else []


def analyze_labels(path):
    with open_h5(path) as f:
        return children_in_creation_order(f["analyze"]) if "analyze" in f else []


def slug(text):
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-") or "report"


def report(folders, out):
    """A markdown report of run, sweep and reproduce folders: their summaries and verdicts, and PNG + SVG plots
    of training curves, perplexity vs length with loss by position (per evaluation label), probe accuracy heat maps,
    attention resolution and oscillation indices, and measured-vs-theory attention (per run)."""
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
            probes = [p for p in paths if eval_labels(p, probes=True)]
            if probes:
                figure(lambda o: plot_probe(probes, None, o), f"{base}-probes",
                       f"{title}: probe accuracy by input length and needle depth")
            analyzed = [p for p in paths if analyze_labels(p)]
            if analyzed:
                figure(lambda o: plot_indices(analyzed, None, o), f"{base}-attention-indices",
                       f"{title}: attention resolution within T and over L, oscillation index within and beyond T")
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
