"""Library-wide defaults, set with :func:`set_options`.

Options are defaults for arguments, never process-global switches: a public
function reads them once, on the calling thread, and passes the resolved values
explicitly to its kernels, so dask threads using different engines at once never
see each other's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xneuro.core.errors import input_error

__all__ = ["OPTIONS", "get_options", "set_options"]

_ENGINES = ("auto", "numpy", "jax", "torch", "cupy")
_DEVICES = ("auto", "cpu", "cuda")
_DTYPES = ("float32", "float64")


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: value in choices


def _is_device(value: Any) -> bool:
    return isinstance(value, str) and (
        value in _DEVICES or (value.startswith("cuda:") and value[5:].isdigit())
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


OPTIONS: dict[str, Any] = {
    "engine": "auto",
    "device": "auto",
    "dtype": "float32",
    "progress": False,
    "chunk_bytes": 8 * 2**20,
    "worker_cache_entries": 8,
}

_VALIDATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "engine": (_one_of(_ENGINES), f"one of {_ENGINES}"),
    "device": (_is_device, f"one of {_DEVICES} or 'cuda:N'"),
    "dtype": (_one_of(_DTYPES), f"one of {_DTYPES}"),
    "progress": (lambda v: isinstance(v, bool), "True or False"),
    "chunk_bytes": (_positive_int, "a positive int (bytes per stored chunk)"),
    "worker_cache_entries": (_positive_int, "a positive int (objects kept per process)"),
}


def get_options() -> dict[str, Any]:
    """Return a copy of the current options.

    Returns
    -------
    dict
        Option name to value.
    """
    return dict(OPTIONS)


class set_options:
    """Set xneuro's defaults, globally or inside a ``with`` block.

    Parameters
    ----------
    engine : {"auto", "numpy", "jax", "torch", "cupy"}
        Default array engine of the kernels that support several.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        Default device; ``"auto"`` picks a GPU where the engine sees one.
    dtype : {"float32", "float64"}
        Default floating-point precision of model kernels.
    progress : bool
        Show progress bars on long calls by default.
    chunk_bytes : int
        Target size in bytes of one stored Zarr chunk.
    worker_cache_entries : int
        Most heavy objects (models, weights) that
        :func:`~xneuro.core.parallel.worker_cache` keeps per process; the
        least recently used one is dropped first. Workers of a distributed
        cluster read their own process's value.

    Raises
    ------
    InputError
        For an unknown option name or an invalid value; the message lists the
        valid names or values.

    Examples
    --------
    >>> import xneuro
    >>> with xneuro.set_options(dtype="float64"):
    ...     xneuro.get_options()["dtype"]
    'float64'
    """

    def __init__(self, **kwargs: Any) -> None:
        for name, value in kwargs.items():
            if name not in OPTIONS:
                raise input_error(
                    name,
                    "is not an xneuro option",
                    expected=f"one of {sorted(OPTIONS)}",
                    fix="check the spelling of the option name",
                )
            is_valid, expected = _VALIDATORS[name]
            if not is_valid(value):
                raise input_error(
                    name, f"got {value!r}", expected=expected, fix=f"pass {name}=<{expected}>"
                )
        self._previous = {name: OPTIONS[name] for name in kwargs}
        OPTIONS.update(kwargs)

    def __enter__(self) -> set_options:
        return self

    def __exit__(self, *exc: object) -> None:
        OPTIONS.update(self._previous)
