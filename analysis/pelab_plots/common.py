"""What every pelab plot shares: one-line errors, reading pelab's HDF5 files, thinning long curves, and
writing a picture atomically (a temporary file beside the target, renamed over it)."""

import os
import tempfile

DPI = 120
# Curves longer than this are thinned (per-bin min/max, which keeps the
# envelope of an oscillating curve) before drawing.
MAX_POINTS_PER_LINE = 60000


class PlotError(Exception):
    """A problem to report in one line, without a traceback."""


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
