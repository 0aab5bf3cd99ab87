"""Array-namespace helpers shared by kernels that run on numpy, dask, cupy and torch.

The kernels are written against the numpy API. Dask arrays take that API
through NEP-18 dispatch (so dask inputs stay lazy and cupy-backed dask chunks
run on the GPU), cupy mirrors it, and torch accepts the numpy spellings of the
calls used here (``axis=``, ``keepdims=``, ``linalg.svd``). Only conversions
in and out differ, and they are here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from xneuro.core import backend
from xneuro.core.errors import input_error

__all__ = ["ENGINES", "is_dask", "like", "namespace", "to_engine", "to_numpy"]

#: Engines the RDM and ridge kernels run on.
ENGINES = ("numpy", "torch", "cupy")


def _library(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def is_dask(x: Any) -> bool:
    """Return whether ``x`` is a dask array."""
    return _library(x) == "dask"


def namespace(x: Any) -> ModuleType:
    """Return the module whose functions operate on ``x`` (numpy for numpy and dask)."""
    library = _library(x)
    if library == "torch":
        import torch

        return torch
    if library == "cupy":
        import cupy

        return cupy
    return np


def resolve_engine(engine: str | None) -> str:
    """Turn ``None``/``"auto"`` into a concrete kernel engine (``"numpy"`` on CPU-only hosts)."""
    from xneuro.core.options import OPTIONS

    engine = OPTIONS["engine"] if engine is None else engine
    if engine in ("auto", "jax"):
        return "numpy"
    if engine not in ENGINES:
        raise input_error(
            "engine", f"got {engine!r}", expected=f"one of {ENGINES} or 'auto'",
            fix="pass engine='numpy' (CPU), 'torch' or 'cupy' (GPU)",
        )
    return engine


def to_engine(x: np.ndarray, engine: str, device: str | None = None, dtype: Any = None) -> Any:
    """Move a numpy array to ``engine`` (and ``device``), as ``dtype``."""
    dtype = np.dtype(dtype or x.dtype)
    if engine == "numpy":
        return np.asarray(x, dtype=dtype)
    if engine == "torch":
        torch = backend.import_optional("torch", purpose="the torch engine")
        where = backend.resolve_device(device, engine="torch")
        return torch.as_tensor(np.asarray(x, dtype=dtype), device=where)
    cupy = backend.import_optional("cupy", purpose="the cupy engine")
    return cupy.asarray(np.asarray(x, dtype=dtype))


def to_numpy(x: Any) -> Any:
    """Bring an engine array back to numpy (dask arrays are returned unchanged)."""
    library = _library(x)
    if library == "torch":
        return x.detach().cpu().numpy()
    if library == "cupy":
        return x.get()
    if library == "dask":
        return x
    return np.asarray(x)


def like(values: Any, ref: Any) -> Any:
    """Put numpy ``values`` on the engine and device of the array ``ref``."""
    library = _library(ref)
    if library == "torch":
        import torch

        return torch.as_tensor(np.asarray(values), device=ref.device)
    if library == "cupy":
        import cupy

        return cupy.asarray(values)
    return np.asarray(values)
