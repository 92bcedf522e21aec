"""The run folder of :func:`npgd.train.train`: checked at start, locked while a run writes.

A training run writes ``last.pt``, ``model.pt`` and ``history.json`` into one folder. Before
any data is read or network built, :func:`claim` makes sure that folder can be written, that it
does not already hold a run that would be overwritten (unless resuming or overwriting on
purpose), and that no other live process is writing there: it creates a lock file
``.npgd-lock`` holding the owner's pid and host name, refused while that process lives, taken
over (and said so) when the pid is gone on this host. Leftover temporary files of interrupted
atomic writes are removed.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from npgd._util import UsageError, atomic_write

__all__ = ["LOCK", "RUN_FILES", "RunLocked", "claim", "release", "writable_folder"]

#: The files that make a folder a training run.
RUN_FILES = ("last.pt", "model.pt", "history.json")
#: The lock file's name inside the run folder.
LOCK = ".npgd-lock"


class RunLocked(OSError):
    """Another live process holds the run folder's lock."""


def claim(out: str | os.PathLike, *, resume: bool = False, overwrite: bool = False,
          log=print) -> Path:
    """Check and lock the run folder ``out``; returns the lock file's path (for
    :func:`release`).

    - ``out`` must be a folder that can be created and written (a file in the way or a
      read-only parent is a UsageError now, not after hours of training);
    - a folder holding a run (:data:`RUN_FILES`) is refused unless ``resume`` (continue it)
      or ``overwrite`` (its run files are deleted here);
    - a lock held by a live process is a :class:`RunLocked` error naming its pid and host; a
      lock left by a dead process on this host is taken over, with a line through ``log``;
    - leftover temporary files of interrupted atomic writes are deleted.

    Examples
    --------
    >>> import tempfile
    >>> lock = claim(tempfile.mkdtemp())
    >>> lock.name
    '.npgd-lock'
    >>> release(lock)
    """
    out = writable_folder(out, "train: --out")
    lock = _lock(out, log)
    try:
        present = [f for f in RUN_FILES if (out / f).exists()]
        if present and not (resume or overwrite):
            raise UsageError(
                f"train: --out {out} already holds a run ({', '.join(present)}), expected "
                f"--resume to continue it, --overwrite to replace it, or another --out")
        if present and resume and not (out / "last.pt").exists():
            raise UsageError(
                f"train: --resume: {out} holds {', '.join(present)} but no last.pt to continue, "
                "expected --overwrite to replace it, or another --out")
        if overwrite:
            for f in present:
                (out / f).unlink()
        for name in RUN_FILES:  # this atomic_write's temporaries and older versions' ones
            for tmp in [*out.glob(f".{name}.*.tmp"), *out.glob(f"{name}.*tmp")]:
                tmp.unlink(missing_ok=True)
    except BaseException:
        release(lock)
        raise
    return lock


def writable_folder(path: str | os.PathLike, what: str = "--out") -> Path:
    """``path`` as a folder that exists (created with its parents) and can be written, or a
    UsageError naming ``what``: checked before any work, not at the first save.

    Examples
    --------
    >>> import tempfile, os
    >>> writable_folder(os.path.join(tempfile.mkdtemp(), "a", "b")).is_dir()
    True
    """
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{what} {out}: a file is in the way, expected a folder") from None
    except PermissionError:
        raise UsageError(f"{what} {out}: permission denied, expected a folder that can be "
                         "created and written") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {out} is not writable, expected a writable folder")
    return out


def release(lock: Path) -> None:
    """Remove the lock file ``lock`` if this process holds it (its ``pid`` is ours); a lock
    held by another process, or gone already, is left alone.

    >>> import tempfile
    >>> lock = claim(tempfile.mkdtemp())
    >>> release(lock); lock.exists()
    False
    >>> release(lock)  # gone already: nothing to do
    """
    try:
        if json.loads(lock.read_text()).get("pid") == os.getpid():
            lock.unlink()
    except (OSError, ValueError):
        pass


def _lock(out: Path, log) -> Path:
    lock = out / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(3):
        # written whole to a temporary file, then hard-linked: the lock appears complete or
        # not at all, and link() fails if another process got there first
        tmp = atomic_write(out / f"{LOCK}.{os.getpid()}", json.dumps(me))
        try:
            os.link(tmp, lock)
            return lock
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        holder = _holder(lock)
        if holder and (holder.get("host") != me["host"] or _alive(holder.get("pid"))):
            raise RunLocked(
                f"train: --out {out} is in use by pid {holder.get('pid')} on "
                f"{holder.get('host')} (lock file {lock}), expected a folder no other run "
                "writes to; wait for it to finish or use another --out")
        log(f"train: taking over the stale lock of pid {holder.get('pid')} (no longer "
            f"running) in {out}")
        lock.unlink(missing_ok=True)
    raise RunLocked(f"train: could not lock {out}: another process keeps taking it")


def _holder(lock: Path) -> dict:
    try:
        holder = json.loads(lock.read_text())
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def _alive(pid: object) -> bool:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
