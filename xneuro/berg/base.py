"""What ``get_encoding_model`` returns: a small, picklable handle on a loaded model.

An :class:`EncodingModel` holds a :class:`Recipe` (model ID, BERG directory,
subjects, selection, device, precision) and the labels of its outputs. The
handle holds its network in the process that loaded it (freed with the handle,
or by :meth:`EncodingModel.release`); pickling the handle (to ship it, or a
task, to Dask workers) drops the network, and each worker process loads it
from the BERG directory once, on first use, into its
:func:`xneuro.core.parallel.worker_cache`.

Each BERG model subclasses :class:`EncodingModel` in its own subpackage and
registers itself with :func:`xneuro.berg.registry.register_model`.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import logging
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from xneuro.core.parallel import clear_worker_cache, worker_cache
from xneuro.core.provenance import fingerprint

__all__ = ["EncodingModel", "Recipe"]

logger = logging.getLogger("xneuro.berg.base")

PRECISIONS = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True, eq=False)
class Recipe:
    """Everything a process needs to load a model's network (small and picklable).

    Attributes
    ----------
    model_id : str
        The BERG model ID.
    berg_dir : str
        Absolute path of the BERG directory (the same on every worker).
    subjects : tuple of int
        Subjects whose outputs are computed.
    selection : dict
        The canonical selection (tuples of str or int).
    device : str
        ``"cpu"`` or ``"cuda:N"``.
    precision : str
        ``"float32"`` or ``"bfloat16"`` (autocast on the device).
    outputs : ndarray, optional
        Model-specific indices of the outputs to compute (``None``: all).
    """

    model_id: str
    berg_dir: str
    subjects: tuple[int, ...]
    selection: Mapping[str, Any]
    device: str
    precision: str
    outputs: np.ndarray | None = None

    def settings(self) -> dict[str, Any]:
        """The recipe as JSON-like settings (for provenance and fingerprints)."""
        return {
            "model_id": self.model_id,
            "berg_dir": self.berg_dir,
            "subjects": list(self.subjects),
            "selection": dict(self.selection),
            "device": self.device,
            "precision": self.precision,
        }

    @functools.cached_property
    def _key(self) -> tuple[str, str]:
        return ("xneuro.berg", fingerprint(self.settings()))

    def key(self) -> tuple[str, str]:
        """The worker-cache key of the network this recipe loads."""
        return self._key


#: Networks held by live model handles in this process, by recipe key (weakly).
_LIVE: weakref.WeakValueDictionary[tuple[str, str], Any] = weakref.WeakValueDictionary()


def network_for(recipe: Recipe) -> Any:
    """The network of ``recipe``: a live handle's in this process, else loaded once per process.

    In the process that called ``get_encoding_model`` (and its threads) the
    handle's network is used and freed with the handle; a Dask worker process
    loads its own copy on first use and keeps it in its worker cache.
    """
    network = _LIVE.get(recipe.key())
    if network is not None:
        return network
    return worker_cache(recipe.key(), _load_network, recipe)


def _load_network(recipe: Recipe) -> Any:
    from xneuro.berg.registry import model_class

    logger.info("loading %s for subjects %s on %s", recipe.model_id, recipe.subjects,
                recipe.device)
    return model_class(recipe.model_id).load_network(recipe)


class EncodingModel(abc.ABC):
    """Base class of BERG encoding models.

    Subclasses set the class attributes and implement :meth:`resolve`,
    :meth:`required_files`, :meth:`load_network`, :meth:`read_metadata`,
    :meth:`build` and :meth:`metadata_dataset`.

    Parameters
    ----------
    recipe : Recipe
        How to load the network.
    labels : Coordinates
        Coordinates of the output dims (``output_dims``).
    attrs : dict, optional
        Attributes of the responses.
    """

    model_id: ClassVar[str]
    title: ClassVar[str]
    modality: ClassVar[str] = "fmri"
    training_dataset: ClassVar[str]
    valid_subjects: ClassVar[tuple[int, ...]]
    selection_keys: ClassVar[tuple[str, ...]]
    input_size: ClassVar[int]
    output_dim: ClassVar[str]

    def __init__(
        self, recipe: Recipe, labels: xr.Coordinates, attrs: Mapping[str, Any] | None = None
    ) -> None:
        self.recipe = recipe
        self.labels = labels
        self.attrs = dict(attrs or {})

    # -- what subclasses implement ---------------------------------------------

    @classmethod
    @abc.abstractmethod
    def resolve(cls, subject: Any, selection: Any) -> tuple[tuple[int, ...], dict[str, Any], bool]:
        """Validate ``subject`` and ``selection`` without reading any file.

        Returns
        -------
        subjects : tuple of int
        selection : dict
            Canonical selection.
        scalar_subject : bool
            True when the output has no ``subject`` dimension.
        """
        ...

    @classmethod
    @abc.abstractmethod
    def required_files(
        cls, berg_dir: Path, subjects: Sequence[int], selection: Mapping[str, Any]
    ) -> list[tuple[Path, str]]:
        """The files the model reads, with a description of each."""
        ...

    @classmethod
    @abc.abstractmethod
    def build(
        cls, berg_dir: Path, subjects: tuple[int, ...], selection: dict[str, Any],
        scalar_subject: bool, device: str, precision: str,
    ) -> EncodingModel:
        """Read the metadata and return the handle (the network is not loaded yet)."""
        ...

    @classmethod
    @abc.abstractmethod
    def load_network(cls, recipe: Recipe) -> Any:
        """Load the network: a callable from uint8 images (B, 3, H, W) to ``(B, *output_shape)``."""
        ...

    @classmethod
    @abc.abstractmethod
    def read_metadata(cls, berg_dir: Path, subject: Any, **kwargs: Any) -> Any:
        """Read BERG's metadata as BERG returns it (a dict, or dicts per subject)."""
        ...

    @abc.abstractmethod
    def metadata_dataset(self) -> xr.Dataset:
        """The metadata aligned with the outputs, as a labeled Dataset."""
        ...

    def bytes_per_image(self) -> int:
        """Rough peak working memory of one image in a batch, in bytes (loads the network)."""
        return int(self.network.bytes_per_image())

    # -- shared behaviour ----------------------------------------------------------

    @property
    def output_dims(self) -> tuple[str, ...]:
        """Dims of one image's response (without ``stimulus``)."""
        dims = tuple(d for d in self.labels.dims if d in ("subject", self.output_dim))
        return tuple(sorted(dims, key=("subject", self.output_dim).index))

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one image's response."""
        return tuple(int(self.labels.sizes[d]) for d in self.output_dims)

    @property
    def subjects(self) -> tuple[int, ...]:
        """The subjects this model encodes."""
        return self.recipe.subjects

    @property
    def device(self) -> str:
        """The device the network runs on."""
        return self.recipe.device

    @property
    def network(self) -> Any:
        """The loaded network (loaded on first use; a pickled handle reloads it per process)."""
        network = self.__dict__.get("_network")
        if network is None:
            network = _LIVE.get(self.recipe.key())
        if network is None:
            network = _load_network(self.recipe)
            _LIVE[self.recipe.key()] = network
        self._network = network
        return network

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Run the network on a batch of checked images.

        Parameters
        ----------
        images : ndarray
            Integer images 0-255 of shape (B, 3, H, W), square, at least
            ``input_size`` pixels (see :func:`xneuro.berg.validate.as_stimulus`).

        Returns
        -------
        ndarray
            float32 responses of shape ``(B, *output_shape)``.
        """
        out = self.network(np.asarray(images))
        return out.reshape((len(images), *self.output_shape))

    def release(self) -> None:
        """Drop the loaded network here (it reloads on next use); frees its memory."""
        self.__dict__.pop("_network", None)
        _LIVE.pop(self.recipe.key(), None)
        clear_worker_cache(self.recipe.key())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_network", None)  # never shipped: each process loads its own
        return state

    def __dask_tokenize__(self) -> tuple[str, ...]:
        return (type(self).__name__, *self.recipe.key())

    def __repr__(self) -> str:
        shape = dict(zip(self.output_dims, self.output_shape, strict=True))
        return (
            f"<{type(self).__name__} {self.recipe.model_id!r} subjects={list(self.subjects)} "
            f"selection={dict(self.recipe.selection)} outputs={shape} device={self.device!r} "
            f"precision={self.recipe.precision!r}>"
        )
