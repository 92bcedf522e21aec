"""Small helpers every layer uses: argument checks, atomic file writes, centre crop/pad.

One copy of each, at the bottom of the dependency graph (this module imports only the
standard library and NumPy), so that operators, priors, solvers, problems, training and the
CLI check arguments, write files and fit shapes the same way.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["DataError", "UsageError", "atomic_write", "check_int", "check_positive_float",
           "crop_or_pad", "keep_freed_memory", "strict_json"]


class UsageError(ValueError):
    """A bad argument or option: the command line ends with exit status 2."""


class DataError(ValueError):
    """Unusable input data (missing, truncated, empty, NaN, wrong rank): exit status 1."""


def check_int(where: str, name: str, value: Any, minimum: int = 1,
              maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]``, or a ValueError naming ``where``
    and ``name`` with what was expected. Booleans and floats are refused, NumPy integers
    are accepted.

    Examples
    --------
    >>> check_int("f", "iters", 3)
    3
    >>> check_int("f", "iters", 0)
    Traceback (most recent call last):
    ...
    ValueError: f: iters must be an int >= 1, got 0
    """
    bad = isinstance(value, bool) or not isinstance(value, numbers.Integral)
    if not bad:
        value = int(value)
        bad = value < minimum or (maximum is not None and value > maximum)
    if bad:
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{where}: {name} must be an int {bound}, got {value!r}")
    return value


def check_positive_float(where: str, name: str, value: Any, allow_zero: bool = False) -> float:
    """``value`` as a finite real ``float`` > 0 (>= 0 with ``allow_zero``), or a ValueError
    (TypeError for a non-real value) naming ``where`` and ``name``. NaN and infinities are
    refused; NumPy/Torch 0-d real scalars are accepted.

    Examples
    --------
    >>> check_positive_float("pgd", "step", 0.5)
    0.5
    >>> check_positive_float("pgd", "step", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: pgd: step must be a finite real number > 0, got nan
    """
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or isinstance(value, complex | np.complexfloating):
        raise TypeError(f"{where}: {name} must be a finite real number {bound}, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: {name} must be a finite real number {bound}, got {type(value).__name__}"
        ) from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{where}: {name} must be a finite real number {bound}, got {v!r}")
    return v


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any] | bytes | str,
                 mode: int = 0o644) -> Path:
    """Write a file so that readers see either the old content or the whole new one.

    ``write`` is the content (``bytes`` or ``str``, UTF-8) or a function that writes to the
    binary file object it is given. The data go to a uniquely named temporary file in the
    destination folder (so concurrent writers never share a temporary name), are flushed to
    disk, and the file is renamed over ``path`` (atomic on POSIX); on any error, interrupt
    included, the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import tempfile, os
    >>> p = atomic_write(os.path.join(tempfile.mkdtemp(), "a.json"), '{"ok": true}')
    >>> p.read_text()
    '{"ok": true}'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(write):
                write(f)
            else:
                f.write(write.encode() if isinstance(write, str) else write)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600; an output is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def crop_or_pad(x: Any, shape: tuple[int, ...]) -> Any:
    """Centre crop and/or zero pad the last ``len(shape)`` axes of ``x`` to ``shape``.

    Works on any array with NumPy-style slicing and ``zeros``-like construction through
    ``x.new_zeros`` (Torch) or ``np.zeros`` (NumPy, CuPy via its own module). Cropping keeps
    the centre sample ``n // 2`` of every axis at ``m // 2``, the convention of centred FFTs,
    so crop and pad are each other's adjoint.

    Examples
    --------
    >>> crop_or_pad(np.ones((1, 4, 6)), (6, 4))[0].sum(axis=1)
    array([0., 4., 4., 4., 4., 0.])
    >>> crop_or_pad(np.arange(5.0), (3,))
    array([1., 2., 3.])
    """
    shape = tuple(int(s) for s in shape)
    k = len(shape)
    if x.ndim < k:
        raise ValueError(f"crop_or_pad: x must have at least {k} axes, got shape {x.shape}")
    lead = tuple(x.shape[: x.ndim - k])
    if hasattr(x, "new_zeros"):  # torch
        out = x.new_zeros(lead + shape)
    else:
        xp = np if isinstance(x, np.ndarray) else __import__(type(x).__module__.split(".")[0])
        out = xp.zeros(lead + shape, dtype=x.dtype)
    src, dst = [], []
    for n, m in zip(x.shape[x.ndim - k:], shape, strict=True):
        c = min(n, m)
        s, d = n // 2 - c // 2, m // 2 - c // 2
        src.append(slice(s, s + c))
        dst.append(slice(d, d + c))
    out[(..., *dst)] = x[(..., *src)]
    return out


def strict_json(obj: Any, indent: int | None = 1) -> str:
    """``obj`` as strict JSON (RFC 8259): NumPy scalars and arrays become numbers and lists,
    and a non-finite float becomes ``null`` instead of the ``NaN``/``Infinity`` tokens that
    ``json.dumps`` writes by default and strict parsers reject. Callers that can produce a
    non-finite value store the reason next to it.

    Examples
    --------
    >>> strict_json({"snr": float("nan"), "n": np.int64(3), "v": np.array([1.5, np.inf])},
    ...             indent=None)
    '{"snr": null, "n": 3, "v": [1.5, null]}'
    """

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(u) for k, u in v.items()}
        if isinstance(v, list | tuple):
            return [clean(u) for u in v]
        if isinstance(v, np.ndarray):
            return clean(v.tolist())
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return json.dumps(clean(obj), indent=indent, allow_nan=False)


def keep_freed_memory() -> bool:
    """Ask glibc's ``malloc`` to keep freed memory for reuse instead of handing it back to
    the system: buffers up to 256 MiB come from the heap (``M_MMAP_THRESHOLD``) and the heap
    is trimmed only above 1 GiB free (``M_TRIM_THRESHOLD``). Returns whether it applied (not
    on other C libraries or systems, where it does nothing).

    Why by hand: the network's activations are multi-megabyte tensors allocated and freed at
    every layer; by default glibc returns such blocks to the system, and each fresh one costs
    page faults, about a third of the shipped MRI model's time on 2 CPU cores (the figures
    are on the benchmarks page of the docs). The threshold covers one 48-feature float32
    activation of a 1024x1024 image (201 MB): blocks above it would be mapped afresh at
    every layer again, as they were at 512x512 and up under an earlier 32 MiB threshold.
    The same settings from a shell:
    ``MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824``. It changes the
    whole process, so the command line calls it, not the library.

    Examples
    --------
    >>> keep_freed_memory() in (True, False)
    True
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other C libraries: no mallopt
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 256 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))
