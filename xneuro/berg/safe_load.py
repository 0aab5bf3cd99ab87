"""Load BERG's pickled files without running code they might carry.

BERG reads its ``.pt`` checkpoints with ``torch.load(weights_only=False)`` and
its ``.npy`` metadata with ``np.load(allow_pickle=True)``; both execute
whatever a tampered file asks for. Here checkpoints go through
``torch.load(weights_only=True)`` with an allow-list of the few extra types
BERG's files hold (``argparse.Namespace``, numpy arrays, dtypes and scalars),
and metadata through a restricted unpickler that rebuilds only numpy arrays,
dtypes, scalars and plain containers. Anything else is refused with
:class:`~xneuro.berg.errors.UnsafeFileError`, naming the file and the type,
before it is called.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import pickle
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric

from xneuro.berg.errors import ModelFileNotFoundError, ModelLoadError, UnsafeFileError
from xneuro.core.backend import import_optional

__all__ = ["load_checkpoint", "load_npy"]

logger = logging.getLogger("xneuro.berg.safe_load")

_DTYPE_CLASSES = {
    name: getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")
}

#: (module, name) -> object the restricted unpickler may return for a GLOBAL.
_NPY_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{("numpy.dtypes", name): cls for name, cls in _DTYPE_CLASSES.items()},
    **{
        (f"{prefix}.{module}", name): obj
        for prefix in ("numpy._core", "numpy.core")
        for module, name, obj in (
            ("multiarray", "_reconstruct", _multiarray._reconstruct),
            ("multiarray", "scalar", _multiarray.scalar),
            ("numeric", "_frombuffer", _numeric._frombuffer),
        )
    },
}

_LOCK = threading.Lock()


def _refuse(path: Path, what: str) -> UnsafeFileError:
    return UnsafeFileError(
        f"{os.fspath(path)}: refused to load type {what}, which is not one of the types BERG's "
        "files hold (numpy arrays, dtypes and scalars, argparse.Namespace, tensors, dicts); "
        "nothing in the file was run; fix: check where the file came from and download it "
        "again from the BERG bucket."
    )


def _missing(path: Path, what: str) -> ModelFileNotFoundError:
    return ModelFileNotFoundError(
        f"{what} not found: expected {os.fspath(path)}; fix: download it into the BERG "
        "directory (keeping BERG's layout), or pass the berg_dir that holds it."
    )


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="ASCII")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _NPY_ALLOWED[(module, name)]
        except KeyError:
            raise _refuse(self._path, f"{module}.{name}") from None


def load_npy(path: str | os.PathLike[str], what: str = "metadata file") -> Any:
    """Read a ``.npy`` file; object arrays are unpickled with an allow-list.

    Parameters
    ----------
    path : str or PathLike
        The file.
    what : str
        What the file is, for the error messages.

    Returns
    -------
    object
        The array, or for a 0-d object array (a saved dict) its item.

    Raises
    ------
    ModelFileNotFoundError
        If the file does not exist.
    UnsafeFileError
        If the pickle asks for a type outside the allow-list (nothing is run).
    ModelLoadError
        If the file is not a readable ``.npy`` file.
    """
    path = Path(path)
    if not path.is_file():
        raise _missing(path, what)
    fmt = np.lib.format
    try:
        with open(path, "rb") as file:
            version = fmt.read_magic(file)
            if version == (1, 0):
                header = fmt.read_array_header_1_0(file)
            elif version == (2, 0):
                header = fmt.read_array_header_2_0(file)
            else:
                header = fmt._read_array_header(file, version)
            if not header[2].hasobject:  # (shape, fortran_order, dtype)
                return np.load(path, allow_pickle=False)
            array = _RestrictedUnpickler(file, path).load()
    except UnsafeFileError:
        raise
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, AttributeError) as err:
        raise ModelLoadError(
            f"{os.fspath(path)}: not a readable .npy {what} ({err}); fix: download it again."
        ) from err
    if not isinstance(array, np.ndarray):
        raise ModelLoadError(
            f"{os.fspath(path)}: holds a pickled {type(array).__name__}, expected a numpy "
            "array; fix: download the file again."
        )
    return array.item() if array.shape == () else array


def _torch_allowed() -> list[Any]:
    allowed: list[Any] = [argparse.Namespace, np.ndarray, np.dtype, *_DTYPE_CLASSES.values()]
    for (module, name), obj in _NPY_ALLOWED.items():
        if module.startswith("numpy.") and module != "numpy.dtypes":
            allowed.append((obj, f"{module}.{name}"))
    return allowed


def load_checkpoint(
    path: str | os.PathLike[str], what: str = "weights file", *, mmap: bool = False
) -> Any:
    """Read a ``torch.save`` file with ``weights_only=True`` and BERG's allow-list.

    Parameters
    ----------
    path : str or PathLike
        The ``.pt`` / ``.pth`` file.
    what : str
        What the file is, for the error messages.
    mmap : bool
        Memory-map the tensors (only the parts that are used get read).

    Returns
    -------
    object
        The unpickled content, tensors on the CPU.

    Raises
    ------
    ModelFileNotFoundError
        If the file does not exist.
    UnsafeFileError
        If the pickle asks for a type outside the allow-list (nothing is run).
    ModelLoadError
        If torch cannot read the file.
    """
    torch = import_optional("torch", purpose="BERG encoding models")
    path = Path(path)
    if not path.is_file():
        raise _missing(path, what)
    serialization = torch.serialization
    allowed = _torch_allowed()
    with _LOCK:  # the allow-list is process-global in torch; add only what is missing
        present = set(map(repr, serialization.get_safe_globals()))
        added = [item for item in allowed if repr(item) not in present]
        serialization.add_safe_globals(added)
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except pickle.UnpicklingError as err:
            found = re.search(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>", str(err))
            if found:
                raise _refuse(path, next(g for g in found.groups() if g)) from None
            raise ModelLoadError(
                f"{os.fspath(path)}: torch could not read this {what} ({str(err)[:300]}); "
                "fix: download it again."
            ) from None
        except (RuntimeError, OSError, EOFError, ValueError) as err:
            raise ModelLoadError(
                f"{os.fspath(path)}: torch could not read this {what} ({err}); fix: download "
                "it again."
            ) from err
        finally:
            _remove_safe_globals(serialization, added)


def _remove_safe_globals(serialization: Any, added: list[Any]) -> None:
    if not added:
        return
    keep = [item for item in serialization.get_safe_globals() if item not in added]
    serialization.clear_safe_globals()
    serialization.add_safe_globals(keep)
