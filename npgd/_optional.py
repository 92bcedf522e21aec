"""Optional dependencies: import one, or fail with the ``pip install`` command that adds it.

The core of npgd needs NumPy, SciPy, PyWavelets, array-api-compat and tqdm; Torch, plotting,
file formats and image utilities are extras (``pyproject.toml``). A module that needs one
calls :func:`require` where it first uses it, so ``import npgd`` never imports them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``import module``, or an ImportError saying that ``feature`` needs it and naming the
    command to run: ``pip install "npgd[extra]"``.

    Examples
    --------
    >>> require("json", "io", "reading JSON").__name__
    'json'
    >>> require("no_such_mod", "io", "DICOM")
    Traceback (most recent call last):
    ...
    ImportError: DICOM needs no_such_mod, which is not installed: pip install "npgd[io]"
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or module.split(".")[0] != e.name.split(".")[0]:
            raise  # the module is there but one of its own imports failed: show that
        raise ImportError(f"{feature} needs {e.name}, which is not installed: "
                          f'pip install "npgd[{extra}]"') from None
