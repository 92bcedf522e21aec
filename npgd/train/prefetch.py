"""Training batches drawn ahead of time in worker processes.

Every batch of a training run is a function of its step alone (the data sources draw sample
``k`` of step ``s`` from ``numpy.random.default_rng([seed, s, k])``), so batches can be drawn
in any order, in other processes, and come out the same. :class:`Prefetcher` keeps the next
``depth`` steps' batches in flight in a pool of worker processes while the network trains on
the current one. On a GPU the randomized samples of :mod:`npgd.train.synth` (about 40 ms
each on one CPU core, so 0.6 s for a batch of 16) would otherwise take longer than the step
itself; ``npgd train --workers N`` uses it.

Written here rather than with ``torch.utils.data.DataLoader``: the loop asks for a batch by
step number (a resumed run restarts at any step, DDP ranks draw their own part of a global
batch), which an iterable loader over a sampler would have to re-express, and the batches
are NumPy arrays that need no collation.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from npgd._util import check_int

__all__ = ["Prefetcher"]

_DRAW: Callable[[int], Any] | None = None  # the draw function of this worker process


def _start(draw: Callable[[int], Any]) -> None:
    """Worker initializer: keep ``draw``; leave SIGINT/SIGTERM to the training process, which
    finishes its step and stops its workers itself (a Ctrl-C reaches the whole process
    group, ``pkill -f`` the workers too); on Linux, die with the training process if it is
    killed outright (``PR_SET_PDEATHSIG``), instead of waiting for work forever."""
    global _DRAW
    _DRAW = draw
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            pr_set_pdeathsig = 1  # <sys/prctl.h>
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        except (OSError, AttributeError):  # no prctl in this C library: nothing to set
            pass


def _run(step: int) -> Any:
    assert _DRAW is not None
    return _DRAW(step)


class Prefetcher:
    """``draw(step)`` for the coming steps, computed ahead by ``workers`` processes.

    ``get(step)`` returns ``draw(step)`` and keeps ``draw(step + 1) .. draw(step + depth - 1)``
    in flight; results of steps below the one asked for are dropped, so a run may skip
    ahead. An exception in ``draw`` is raised by the ``get`` of its step. ``draw`` must
    depend on the step alone (the data sources of :mod:`npgd.train` do); on Linux the workers
    are forked and inherit it, elsewhere it is pickled. Use it as a context manager, or call
    :meth:`close`.

    Examples
    --------
    >>> with Prefetcher(abs, workers=2) as p:
    ...     [p.get(s) for s in (-3, -2, -1, 5)]
    [3, 2, 1, 5]
    """

    def __init__(self, draw: Callable[[int], Any], workers: int, depth: int | None = None):
        self.workers = check_int("Prefetcher", "workers", workers, 1)
        self.depth = check_int("Prefetcher", "depth", 2 * self.workers if depth is None
                               else depth, 1)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=_start, initargs=(draw,))
        self._futures: dict[int, Future] = {}

    def get(self, step: int) -> Any:
        """``draw(step)``, and the next steps' draws started."""
        if self._pool is None:
            raise RuntimeError("Prefetcher: get() after close()")
        for s in [s for s in self._futures if s < step]:
            self._futures.pop(s).cancel()
        for s in range(step, step + self.depth):
            if s not in self._futures:
                self._futures[s] = self._pool.submit(_run, s)
        return self._futures.pop(step).result()

    def close(self) -> None:
        """Stop the workers (draws in flight are cancelled or awaited); idempotent."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._futures = None, {}

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
