"""Progress bars that work on the local schedulers and on a distributed cluster."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

from xneuro.core.options import OPTIONS

__all__ = ["compute", "current_client", "progress_bar", "wants_progress"]

T = TypeVar("T")


def wants_progress(progress: bool | None) -> bool:
    """Resolve a ``progress`` argument: ``None`` takes the ``progress`` option."""
    return bool(OPTIONS["progress"] if progress is None else progress)


def current_client() -> Any | None:
    """Return the :class:`distributed.Client` that dask will compute on, or ``None``.

    Follows dask's own resolution: a scheduler set with
    ``dask.config.set(scheduler=client)`` (or ``scheduler="threads"``, which
    means no client even when one exists), else the default client created by
    ``Client(...)`` or ``with client:``.
    """
    try:
        import dask.base
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a core dependency
        return None
    try:
        scheduler = dask.base.get_scheduler()
    except (RuntimeError, ValueError):
        return None
    client = scheduler if isinstance(scheduler, Client) else getattr(scheduler, "__self__", None)
    return client if isinstance(client, Client) else None


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    progress: bool | None = None,
) -> tqdm:
    """A tqdm bar over ``iterable`` that is silent unless progress is wanted.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; omit it to update the bar by hand.
    total : int, optional
        Number of steps, when ``iterable`` has no length.
    desc : str, optional
        Label shown left of the bar.
    progress : bool, optional
        Show the bar; ``None`` takes the ``progress`` option.

    Returns
    -------
    tqdm.tqdm
        The bar (disabled when no progress is wanted).
    """
    return tqdm(iterable, total=total, desc=desc, disable=not wants_progress(progress))


def compute(obj: Any, *, progress: bool | None = None, desc: str | None = None) -> Any:
    """Compute a dask-backed object, showing a bar on the active scheduler.

    Uses :func:`distributed.progress` when a distributed client is the default,
    and :class:`tqdm.dask.TqdmCallback` on the local schedulers.

    Parameters
    ----------
    obj : dask collection or xarray object
        What to compute.
    progress : bool, optional
        Show a bar; ``None`` takes the ``progress`` option.
    desc : str, optional
        Label of the bar (local schedulers only).

    Returns
    -------
    object
        The computed object.
    """
    if not wants_progress(progress):
        return obj.compute()
    client = current_client()
    if client is not None:
        from distributed import progress as distributed_progress

        persisted = obj.persist()
        distributed_progress(persisted)
        return persisted.compute()
    from tqdm.dask import TqdmCallback

    with TqdmCallback(desc=desc):
        return obj.compute()
