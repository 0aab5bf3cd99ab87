"""Checks of what users pass to BERG models: images, subjects and selections.

All checks run before any file is read or any model is run, and are stricter
than BERG's: images must be a 4-D ``(stimulus, 3, H, W)`` array of integers in
0-255 (values outside are refused, never wrapped), square and at least the
model's input size.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from xneuro.berg.errors import InvalidParameterError, StimulusError, ValidationError
from xneuro.core.errors import input_error

__all__ = [
    "IMAGE_DIMS",
    "as_stimulus",
    "check_pixel_values",
    "validate_binary_array",
    "validate_roi",
    "validate_selection_keys",
    "validate_subject",
    "validate_subjects",
]

#: Dims of an image batch, as :func:`xneuro.datasets.sample_images` returns it.
IMAGE_DIMS = ("stimulus", "channel", "row", "column")


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


def _open_path(path: str | os.PathLike[str]) -> Any:
    from xneuro.core.store import open as open_store

    p = os.fspath(path)
    if p.endswith(".npy") and os.path.isfile(p):
        return np.load(p, mmap_mode="r", allow_pickle=False)
    if not os.path.isdir(p):
        raise input_error(
            "stimulus", f"the path {p!r} is neither a .npy file nor a Zarr store",
            expected="an image array, or the path of a .npy file or Zarr store of images",
            fix="check the path", cls=StimulusError,
        )
    return open_store(p)


def _from_dataset(ds: xr.Dataset) -> xr.DataArray:
    names = [n for n in ds.data_vars if ds[n].ndim == 4]
    if "image" in ds.data_vars:
        return ds["image"]
    if len(names) == 1:
        return ds[names[0]]
    raise input_error(
        "stimulus", f"is a Dataset with 4-D variables {names}",
        expected="one 4-D image variable (or one named 'image')",
        fix="pass ds['<name>']", cls=StimulusError,
    )


def _as_dataarray(stimulus: Any) -> xr.DataArray:
    if isinstance(stimulus, str | os.PathLike):
        stimulus = _open_path(stimulus)
    if isinstance(stimulus, xr.Dataset):
        stimulus = _from_dataset(stimulus)
    if isinstance(stimulus, xr.DataArray):
        if stimulus.ndim == 4 and set(stimulus.dims) == set(IMAGE_DIMS):
            return stimulus.transpose(*IMAGE_DIMS)
        if stimulus.ndim == 4:
            raise input_error(
                "stimulus", f"has dims {stimulus.dims}",
                expected=f"dims {IMAGE_DIMS}",
                fix="rename them, e.g. images.rename(dict(zip(images.dims, "
                f"{IMAGE_DIMS!r})))", cls=StimulusError,
            )
        return stimulus  # the ndim check below words the error
    if isinstance(stimulus, np.ndarray) or _is_dask(stimulus):
        dims = IMAGE_DIMS if stimulus.ndim == 4 else tuple(f"dim_{i}" for i in range(stimulus.ndim))
        coords = {"stimulus": np.arange(stimulus.shape[0])} if stimulus.ndim == 4 else None
        return xr.DataArray(stimulus, dims=dims, coords=coords, name="image")
    raise input_error(
        "stimulus", f"is a {type(stimulus).__name__}",
        expected="a numpy, dask or xarray array of shape (stimulus, 3, height, width)",
        fix="convert it with np.asarray(...)", cls=StimulusError,
    )


def as_stimulus(stimulus: Any, *, min_size: int) -> tuple[xr.DataArray, bool]:
    """Check an image batch and return it as a labeled (stimulus, channel, row, column) array.

    Parameters
    ----------
    stimulus : array-like, DataArray, Dataset or path
        Images as numpy, dask or xarray, or the path of a ``.npy`` file or Zarr store.
    min_size : int
        The model's input size in pixels: images must be at least this large.

    Returns
    -------
    images : DataArray
        Dims ``("stimulus", "channel", "row", "column")``; dask-backed input stays lazy.
    needs_value_check : bool
        True when the values could not be checked without computing (a lazy
        integer array wider than uint8); :func:`check_pixel_values` then runs
        on each batch before the model does.

    Raises
    ------
    StimulusError
        For a wrong type, rank, channel count, non-square or too small images,
        a non-integer dtype, or values outside 0-255.
    """
    images = _as_dataarray(stimulus)
    shape = images.shape
    if images.ndim != 4:
        raise input_error(
            "stimulus", f"has shape {shape}",
            expected="4 dimensions (stimulus, 3 RGB channels, height, width)",
            fix="stack single images with np.stack(...)[..., None] or add the batch axis "
            "with images[None]", cls=StimulusError,
        )
    n, channels, height, width = shape
    if n == 0:
        raise input_error("stimulus", "holds no images", expected="at least one image",
                          cls=StimulusError)
    if channels != 3:
        raise input_error(
            "stimulus", f"has {channels} colour channels (axis 1, shape {shape})",
            expected="3 RGB channels on axis 1", fix="convert grey images with "
            "np.repeat(images, 3, axis=1), and move a trailing channel axis with "
            "images.transpose(0, 3, 1, 2)", cls=StimulusError,
        )
    if height != width:
        raise input_error(
            "stimulus", f"has non-square images of {height} x {width} pixels",
            expected="square images (BERG would stretch them)",
            fix=f"crop them, e.g. images[..., :{min(height, width)}, :{min(height, width)}]",
            cls=StimulusError,
        )
    if height < min_size:
        raise input_error(
            "stimulus", f"has images of {height} x {width} pixels",
            expected=f"at least {min_size} x {min_size} pixels, the model's input size",
            fix="render or upsample the images at a larger size", cls=StimulusError,
        )
    dtype = images.dtype
    if dtype.kind not in "iu":
        hint = (
            "if they are in [0, 1], pass (images * 255).round().astype('uint8')"
            if dtype.kind == "f" else "convert them to uint8"
        )
        raise input_error(
            "stimulus", f"has dtype {dtype}",
            expected="integer pixel values in 0-255 (e.g. uint8)", fix=hint, cls=StimulusError,
        )
    if dtype == np.uint8:
        return images, False
    if _is_dask(images.data):
        return images, True
    check_pixel_values(np.asarray(images.data))
    return images, False


def check_pixel_values(images: np.ndarray, first: int = 0) -> None:
    """Raise :class:`StimulusError` if any value is outside 0-255.

    Parameters
    ----------
    images : ndarray
        Integer images.
    first : int
        Index of ``images[0]`` in the whole stimulus set, for the message.
    """
    if images.dtype == np.uint8 or images.size == 0:
        return
    low, high = images.min(), images.max()
    if low >= 0 and high <= 255:
        return
    bad = np.flatnonzero(((images < 0) | (images > 255)).reshape(len(images), -1).any(1))
    raise input_error(
        "stimulus", f"has values from {low} to {high} (stimulus {[first + int(b) for b in bad[:5]]})",
        expected="integers in 0-255 (BERG would wrap them silently)",
        fix="clip or rescale them, e.g. np.clip(images, 0, 255).astype('uint8')",
        cls=StimulusError,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def validate_subject(subject: Any, valid: Sequence[int]) -> int:
    """Return ``subject`` as an int, or raise :class:`InvalidParameterError`."""
    if not _is_int(subject) or int(subject) not in valid:
        raise input_error(
            "subject", f"got {subject!r}", expected=f"one of {list(valid)}",
            fix="pass the NSD subject number as an int", cls=InvalidParameterError,
        )
    return int(subject)


def validate_subjects(subject: Any, valid: Sequence[int]) -> tuple[tuple[int, ...], bool]:
    """Resolve an int, a list of ints or ``"all"`` to subjects.

    Returns
    -------
    subjects : tuple of int
        The subjects, in the order given.
    scalar : bool
        True when ``subject`` was a single int.
    """
    if isinstance(subject, str):
        if subject != "all":
            raise input_error(
                "subject", f"got {subject!r}", expected=f"an int in {list(valid)}, a list "
                "of them, or 'all'", cls=InvalidParameterError,
            )
        return tuple(valid), False
    if _is_int(subject):
        return (validate_subject(subject, valid),), True
    if isinstance(subject, list | tuple | np.ndarray):
        subjects = tuple(validate_subject(s, valid) for s in subject)
        if not subjects:
            raise input_error("subject", "is an empty list", expected="at least one subject",
                              cls=InvalidParameterError)
        if len(set(subjects)) != len(subjects):
            raise input_error("subject", f"repeats subjects in {list(subjects)}",
                              expected="each subject once", cls=InvalidParameterError)
        return subjects, False
    raise input_error(
        "subject", f"is a {type(subject).__name__}",
        expected=f"an int in {list(valid)}, a list of them, or 'all'", cls=InvalidParameterError,
    )


def validate_selection_keys(selection: Any, keys: Iterable[str]) -> dict[str, Any]:
    """Check that ``selection`` is a dict whose keys are among ``keys``."""
    keys = list(keys)
    if not isinstance(selection, Mapping):
        raise input_error(
            "selection", f"is a {type(selection).__name__}",
            expected=f"a dict with keys from {keys}", cls=InvalidParameterError,
        )
    unknown = [k for k in selection if k not in keys]
    if unknown:
        raise input_error(
            "selection", f"has unknown key(s) {unknown}", expected=f"keys from {keys}",
            fix="check the spelling; the model card lists the selection properties",
            cls=InvalidParameterError,
        )
    return dict(selection)


def validate_roi(roi: Any, valid: Sequence[str]) -> str:
    """Return ``roi`` if it names a valid ROI, else raise :class:`ValidationError`."""
    if not isinstance(roi, str) or roi not in valid:
        import difflib

        close = difflib.get_close_matches(str(roi), list(valid), n=3, cutoff=0.5)
        raise input_error(
            "selection['roi']", f"{roi!r} is not a valid ROI of this model",
            expected=f"one of {list(valid)}" if len(valid) <= 40 else f"one of {len(valid)} "
            "ROI names such as " + ", ".join(map(repr, valid[:6])),
            fix=f"did you mean {close}?" if close else "check the model card",
            cls=ValidationError,
        )
    return roi


def validate_binary_array(values: Any, length: int, name: str) -> np.ndarray:
    """Return ``values`` as a bool vector of ``length``, else raise :class:`ValidationError`."""
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != length:
        raise input_error(
            name, f"has shape {array.shape}", expected=f"exactly {length} elements (one per "
            "model output)", cls=ValidationError,
        )
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        raise input_error(name, "is not binary", expected="only 0/1 or False/True values",
                          cls=ValidationError)
    return array.astype(bool)
