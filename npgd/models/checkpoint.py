"""Checkpoint files: the format tag, an atomic save and a load that never executes code.

Every ``.pt`` file npgd writes or reads (``last.pt`` and ``model.pt`` of a training run, the
shipped models in ``npgd/models/weights``) goes through this module: the training loop and
the model zoo share it, so a file one writes the other reads.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from npgd._optional import require
from npgd._util import atomic_write

torch = require("torch", "torch", "npgd.models (trained networks and their checkpoints)")

__all__ = ["FORMAT", "load_checkpoint", "save_checkpoint"]

#: The format tag stored under ``"format"`` in every checkpoint.
FORMAT = "npgd-neuralpgd-1"


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` with ``torch.save`` atomically (:func:`npgd._util.atomic_write`): a
    uniquely named temporary file in the same folder, flushed to disk, then renamed over
    ``path``, so a kill never leaves a half-written file.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
    >>> save_checkpoint(p, {"format": FORMAT, "w": torch.ones(2)})
    >>> load_checkpoint(p)["w"]
    tensor([1., 1.])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``: tensors, numbers, strings,
    lists and dicts only, so a file holding code is refused, never executed.

    Raises FileNotFoundError for a missing file and ValueError naming the file for a
    truncated/corrupt one, one that holds other objects, or one that is not an npgd checkpoint.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
    >>> save_checkpoint(p, {"format": FORMAT, "step": 3})
    >>> load_checkpoint(p)["step"]
    3
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint: no such file: {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f"checkpoint {p} holds objects other than tensors and plain data (refused, nothing "
            f"was executed): {str(e).splitlines()[0]}"
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise ValueError(f"checkpoint {p} is truncated or corrupt: {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"checkpoint {p} is not an npgd checkpoint (format {FORMAT!r})")
    return state
