"""Engines (numpy, jax, torch, tensorflow, cupy) and devices, found without importing them.

Heavy engines are optional: nothing here imports one until a caller asks for it,
and a missing engine raises :class:`~xneuro.core.errors.MissingDependencyError`
naming the ``pip install`` that brings it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import logging
from types import ModuleType

from xneuro.core.errors import MissingDependencyError, input_error
from xneuro.core.options import OPTIONS

__all__ = [
    "ENGINES",
    "available_engines",
    "engine_devices",
    "import_optional",
    "optional_module",
    "resolve_device",
    "resolve_dtype",
]

logger = logging.getLogger("xneuro.core.backend")

#: engine name -> (import name, distribution name, xneuro extra that installs it)
ENGINES: dict[str, tuple[str, str, str]] = {
    "numpy": ("numpy", "numpy", ""),
    "jax": ("jax", "jax", "jax"),
    "torch": ("torch", "torch", "torch"),
    "tensorflow": ("tensorflow", "tensorflow", "tensorflow"),
    "cupy": ("cupy", "cupy-cuda12x", "gpu"),
}


def _installed_version(module: str, distribution: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    for name in (distribution, module):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def available_engines() -> dict[str, str | None]:
    """Report which engines are installed, without importing them.

    Returns
    -------
    dict
        Engine name to installed version, or ``None`` where it is missing.
    """
    return {name: _installed_version(mod, dist) for name, (mod, dist, _) in ENGINES.items()}


def import_optional(module: str, *, extra: str | None = None, purpose: str = "") -> ModuleType:
    """Import an optional dependency, or explain how to install it.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"torch"`` or ``"jax.numpy"``.
    extra : str, optional
        The xneuro extra that installs it (``pip install 'xneuro[extra]'``).
        Looked up from :data:`ENGINES` when omitted.
    purpose : str
        What needs it, for the error message.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependencyError
        When the module cannot be imported.
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra = extra if extra is not None else ENGINES.get(top, (top, top, ""))[2]
        install = f"pip install 'xneuro[{extra}]'" if extra else f"pip install {top}"
        need = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"{top} is needed{need} but could not be imported ({err}); fix: {install}."
        ) from err


@functools.cache
def optional_module(module: str) -> ModuleType | None:
    """Import a module that only speeds something up, or return None when it is missing.

    For optional accelerators with a plain fallback (torch's reductions,
    ISA-L or libdeflate codecs, threadpoolctl): the caller checks for None.
    Looked up once per process. Use :func:`import_optional` instead where the
    module is required.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"isal.isal_zlib"``.

    Returns
    -------
    module or None
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def engine_devices(engine: str) -> list[str]:
    """List the devices an engine can use, importing the engine.

    Parameters
    ----------
    engine : {"numpy", "jax", "torch", "tensorflow", "cupy"}
        The engine to ask.

    Returns
    -------
    list of str
        Device names such as ``"cpu"`` or ``"cuda:0"``; empty if the engine is missing.
    """
    if engine not in ENGINES:
        raise input_error("engine", f"got {engine!r}", expected=f"one of {list(ENGINES)}")
    if engine == "numpy":
        return ["cpu"]
    if available_engines()[engine] is None:
        return []
    try:
        return _query_devices(engine)
    except Exception as err:  # an engine that is installed but broken still reports
        logger.warning("could not list the devices of %s: %s", engine, err)
        return []


def _query_devices(engine: str) -> list[str]:
    if engine == "torch":
        import torch

        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return ["cpu", *[f"cuda:{i}" for i in range(n)]]
    if engine == "jax":
        import jax

        return [f"{d.platform}:{d.id}" for d in jax.devices()]
    if engine == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_logical_devices()]
    import cupy

    return [f"cuda:{i}" for i in range(cupy.cuda.runtime.getDeviceCount())]


def _cuda_available(engine: str) -> bool:
    if engine in ("numpy",):
        return False
    return any(d.startswith(("cuda", "gpu")) for d in engine_devices(engine))


def resolve_device(device: str | None = None, *, engine: str = "torch") -> str:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a concrete device.

    Parameters
    ----------
    device : str, optional
        Requested device; ``None`` takes the ``device`` option.
    engine : str
        The engine that will run on it (``"torch"``, ``"jax"``, ``"cupy"``, ``"numpy"``).

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda:N"``.

    Raises
    ------
    InputError
        For an unknown device name, or ``"cuda"`` when the engine sees no GPU.
    """
    device = OPTIONS["device"] if device is None else device
    if not isinstance(device, str) or not (
        device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
    ):
        raise input_error(
            "device", f"got {device!r}", expected="'auto', 'cpu', 'cuda' or 'cuda:N'"
        )
    if device == "cpu":
        return "cpu"
    has_cuda = _cuda_available(engine)
    if device == "auto":
        return "cuda:0" if has_cuda else "cpu"
    if not has_cuda:
        raise input_error(
            "device",
            f"{device!r} was asked for but {engine} sees no CUDA device",
            fix="pass device='cpu' or 'auto', or install a CUDA build of the engine",
        )
    return "cuda:0" if device == "cuda" else device


def resolve_dtype(dtype: str | None = None) -> str:
    """Return the floating dtype name to use (``None`` takes the ``dtype`` option)."""
    dtype = OPTIONS["dtype"] if dtype is None else str(dtype)
    if dtype not in ("float32", "float64"):
        raise input_error("dtype", f"got {dtype!r}", expected="'float32' or 'float64'")
    return dtype
