#!/usr/bin/python3
"""Plots of pelab result files (HDF5), drawn with Debian's matplotlib + h5py.

    plot.py decay FILE.h5 --out FILE.png
    plot.py train RUN/run.h5 ... --out FILE.png
    plot.py eval RUN/run.h5 ... [--label NAME] --out FILE.png
    plot.py analyze RUN/run.h5 [--label NAME] --out FILE.png
    plot.py indices RUN/run.h5 ... [--label NAME] --out FILE.png
    plot.py probe RUN/run.h5 ... [--label NAME] --out FILE.png
    plot.py tasks RUN/run.h5 ... [--label NAME] --out FILE.png
    plot.py report DIR ... --out DIR    (what `pelab report` runs)

`pelab decay --plot PNG` runs this script; it can also be run by hand on any
file `pelab decay` wrote. The file layout is docs/hdf5-schema.md. Each kind of
plot is a module of analysis/pelab_plots/ (found beside this script).

The picture is written to a temporary file in the target's folder and renamed
over the target, so a failed plot never leaves a half-written PNG behind.
Errors end with one line "plot.py: error: ..." on stderr and exit status 1.
"""

import argparse
import os
import sys

# The plot modules live beside this script; no bytecode is written into the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pelab_plots.common import PlotError, import_libraries  # noqa: E402
from pelab_plots.attention import plot_analyze, plot_indices  # noqa: E402
from pelab_plots.decay import plot_decay  # noqa: E402
from pelab_plots.evaluation import plot_eval, plot_probe, plot_tasks  # noqa: E402
from pelab_plots.report import report  # noqa: E402
from pelab_plots.training import plot_train  # noqa: E402

PROG = "plot.py"


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the one-line, exit-1 convention."""

    def error(self, message):
        sys.stderr.write(f"{PROG}: error: {message} (see '{PROG} --help')\n")
        sys.exit(1)


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
    i = sub.add_parser("indices", help="attention resolution and oscillation index per run from 'pelab analyze'",
                       description="Draw R(s^) within T and over L and the oscillation index within and beyond T "
                                   "of one or more run.h5 files, bars per run.")
    i.add_argument("h5", nargs="+", metavar="RUN/run.h5", help="run files holding /analyze groups")
    i.add_argument("--label", help="analysis label to draw (default: each file's first)")
    i.add_argument("--out", required=True, metavar="FILE.png", help="picture to write (PNG; .svg/.pdf also work)")
    i.set_defaults(run=lambda a: plot_indices(a.h5, a.label, a.out))
    q = sub.add_parser("probe", help="probe accuracy heat maps (length x depth) from 'pelab eval --probe'",
                       description="Draw the probe accuracy of one or more run.h5 files, one heat map per run and label.")
    q.add_argument("h5", nargs="+", metavar="RUN/run.h5", help="run files holding probe evaluations")
    q.add_argument("--label", action="append", help="probe label(s) to draw (default: every probe)")
    q.add_argument("--out", required=True, metavar="FILE.png", help="picture to write (PNG; .svg/.pdf also work)")
    q.set_defaults(run=lambda a: plot_probe(a.h5, a.label, a.out))
    k = sub.add_parser("tasks", help="task-suite accuracy against length, one line per arm, from 'pelab eval --task'",
                       description="Draw exact match against length per task of the suite, one line per arm (runs "
                                   "that differ only in train.seed pooled: mean and lowest-highest band).")
    k.add_argument("h5", nargs="+", metavar="RUN/run.h5", help="run files holding task evaluations")
    k.add_argument("--label", action="append", help="evaluation label(s) to merge (default: every task evaluation)")
    k.add_argument("--out", required=True, metavar="FILE.png", help="picture to write (PNG; .svg/.pdf also work)")
    k.set_defaults(run=lambda a: plot_tasks(a.h5, a.label, a.out))
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
