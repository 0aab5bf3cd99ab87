"""Dask runtime: a local cluster helper, block kernels over unit chunks, per-worker caches.

xneuro distributes independent units of work (voxel chunks, stimulus batches,
sweep points) with whatever Dask scheduler is active: threads by default, the
default :class:`distributed.Client` when there is one. Nothing here changes
when that client talks to a dask-jobqueue or dask-kubernetes cluster.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.options import OPTIONS

__all__ = ["clear_worker_cache", "cluster", "map_units", "worker_cache", "worker_cache_keys"]

logger = logging.getLogger("xneuro.core.parallel")


def _check_count(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise input_error(name, f"got {value!r}", expected="a positive int or None")


def cluster(
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    processes: bool = True,
    memory_limit: str | int | None = "auto",
    resources: Mapping[str, float] | None = None,
    dashboard_address: str | None = ":0",
    **kwargs: Any,
):
    """Start a :class:`distributed.LocalCluster` and a client that owns it.

    Use it as a context manager: leaving the block closes the client and its
    cluster. The client becomes the default, so every xneuro call inside the
    block runs on it. On HPC or Kubernetes, make the client from a
    dask-jobqueue or dask-kubernetes cluster instead; nothing else changes.
    On GPU nodes, one worker per GPU (``dask_cuda.LocalCUDACluster``) with
    ``resources={"GPU": 1}``.

    Parameters
    ----------
    n_workers : int, optional
        Worker count; dask's default uses the machine's cores.
    threads_per_worker : int, optional
        Threads in each worker.
    processes : bool, default True
        Workers in separate processes (``False``: threads in this process).
    memory_limit : str or int, optional
        Per-worker memory limit, as ``distributed`` understands it.
    resources : mapping, optional
        Abstract resources each worker offers, e.g. ``{"GPU": 1}``.
    dashboard_address : str, optional
        Where to serve the dashboard (``":0"`` picks a free port, ``None`` none).
    **kwargs
        Passed to :class:`distributed.LocalCluster`.

    Returns
    -------
    distributed.Client
        The client, owning its cluster.

    Examples
    --------
    >>> with xneuro.cluster(n_workers=2, threads_per_worker=1) as client:  # doctest: +SKIP
    ...     fit = bold.encode.fit(model, paradigm=stim)
    """
    from distributed import Client

    _check_count("n_workers", n_workers)
    _check_count("threads_per_worker", threads_per_worker)
    if not isinstance(processes, bool):
        raise input_error("processes", f"got {processes!r}", expected="True or False")
    if resources is not None and not (
        isinstance(resources, Mapping)
        and all(isinstance(v, int | float) and v > 0 for v in resources.values())
    ):
        raise input_error(
            "resources", f"got {resources!r}", expected="a mapping like {'GPU': 1}"
        )
    client = Client(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        memory_limit=memory_limit,
        resources=dict(resources) if resources else None,
        dashboard_address=dashboard_address,
        **kwargs,
    )
    logger.info("started %s", client)
    return client


def _check_single_chunk(obj: xr.DataArray, dims: Sequence[str], position: int) -> None:
    if obj.chunks is None:
        return
    for dim in dims:
        if dim in obj.dims and len(obj.chunksizes[dim]) > 1:
            raise DimensionError(
                f"argument {position} ({obj.name or 'unnamed'}): core dimension {dim!r} is split "
                f"into {len(obj.chunksizes[dim])} chunks {obj.chunksizes[dim]}; expected one chunk "
                f"along {dim!r}; fix: .chunk({{{dim!r}: -1}}) (memory per task grows to the whole "
                f"{dim!r} axis), and chunk the unit dimension instead."
            )


def map_units(
    kernel: Callable[..., Any],
    *objs: xr.DataArray,
    core_dims: Sequence[Sequence[str]],
    output_core_dims: Sequence[Sequence[str]] = ((),),
    output_sizes: Mapping[str, int] | None = None,
    output_dtypes: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Map an array kernel over the unit chunks of labeled arrays.

    A thin, checked layer over :func:`xarray.apply_ufunc` with
    ``dask="parallelized"``: core dims (``time``, features) must be one chunk,
    every other dim is a batch dim that the kernel sees last-axis-first as
    numpy arrays whose core dims are the trailing axes. The kernel solves a
    whole block at once (no per-voxel Python loop).

    Parameters
    ----------
    kernel : callable
        ``kernel(*blocks, **kwargs)`` on numpy (or cupy) arrays.
    *objs : DataArray
        Inputs; dask-backed ones stay lazy.
    core_dims : sequence of sequence of str
        Core dims of each input.
    output_core_dims : sequence of sequence of str
        Core dims of each output.
    output_sizes : mapping, optional
        Sizes of output core dims that no input has.
    output_dtypes : sequence, optional
        Output dtypes (needed for dask inputs; defaults to float64).
    kwargs : mapping, optional
        Keyword arguments passed to the kernel.

    Returns
    -------
    DataArray or tuple of DataArray
        The labeled result(s), lazy when any input is.
    """
    if len(core_dims) != len(objs):
        raise input_error(
            "core_dims",
            f"has {len(core_dims)} entries for {len(objs)} inputs",
            expected="one list of core dims per input",
        )
    for position, (obj, dims) in enumerate(zip(objs, core_dims, strict=True)):
        missing = [d for d in dims if d not in obj.dims]
        if missing:
            raise DimensionError(
                f"argument {position} ({obj.name or 'unnamed'}): has dims {obj.dims}; expected "
                f"core dims {tuple(dims)} (missing {missing}); fix: rename or transpose the input."
            )
        _check_single_chunk(obj, dims, position)
    n_out = len(output_core_dims)
    dtypes = list(output_dtypes) if output_dtypes is not None else ["float64"] * n_out
    return xr.apply_ufunc(
        kernel,
        *objs,
        input_core_dims=[list(d) for d in core_dims],
        output_core_dims=[list(d) for d in output_core_dims],
        dask="parallelized",
        output_dtypes=dtypes,
        dask_gufunc_kwargs={"output_sizes": dict(output_sizes or {})},
        kwargs=dict(kwargs or {}),
        keep_attrs="drop",
    )


_CACHE: OrderedDict[Hashable, Any] = OrderedDict()
_KEY_LOCKS: dict[Hashable, threading.Lock] = {}
_CACHE_LOCK = threading.Lock()


def worker_cache(key: Hashable, loader: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Load a heavy object once per process and return it on every later call.

    Tasks ship only the ``key`` and a loader (a module-level function and small
    arguments such as a weights path), never the object itself. On a
    distributed cluster every worker process loads once, on first use; threads
    of one worker wait for the first load instead of repeating it.

    Parameters
    ----------
    key : hashable
        Identifies the object, e.g. ``("berg", model_id, subject, device)``.
    loader : callable
        Called as ``loader(*args, **kwargs)`` on the first use of ``key`` here.
    *args, **kwargs
        Passed to ``loader``.

    Returns
    -------
    object
        The cached object.
    """
    try:
        hash(key)
    except TypeError as err:
        raise input_error("key", f"is not hashable ({err})", expected="a hashable key") from err
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _CACHE_LOCK:
            if key in _CACHE:  # loaded by another thread while this one waited
                return _CACHE[key]
        logger.debug("loading %r into the worker cache", key)
        value = loader(*args, **kwargs)
        with _CACHE_LOCK:
            _CACHE[key] = value
            while len(_CACHE) > OPTIONS["worker_cache_entries"]:
                dropped, _ = _CACHE.popitem(last=False)
                _KEY_LOCKS.pop(dropped, None)
                logger.debug("dropped %r from the worker cache", dropped)
        return value


def worker_cache_keys() -> list[Hashable]:
    """Keys loaded in this process's cache."""
    return list(_CACHE)


def clear_worker_cache(key: Hashable | None = None) -> None:
    """Drop one entry (or all) from this process's cache."""
    with _CACHE_LOCK:
        if key is None:
            _CACHE.clear()
            _KEY_LOCKS.clear()
        else:
            _CACHE.pop(key, None)
            _KEY_LOCKS.pop(key, None)
