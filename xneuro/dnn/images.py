"""Image inputs of an extraction: arrays, dask arrays, labeled arrays, folders, ``Stimulus`` tables.

Every input becomes an :class:`ImageSource` that loads a block of stimuli as
``(n, channel, row, column)`` with values checked: ``uint8`` (or other ints
in 0..255) or floats in [0, 1]. Labels (stimulus names, categories, a
``Stimulus`` table's columns) become coordinates along ``stimulus``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from xneuro.core.backend import import_optional
from xneuro.core.errors import DimensionError, input_error
from xneuro.dnn.stimulus import Stimulus

__all__ = ["IMAGE_SUFFIXES", "ImageSource", "as_image_source", "check_values"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
_DIMS = ("stimulus", "channel", "row", "column")


def check_values(block: np.ndarray, argument: str = "images") -> None:
    """Check image values: ints in 0..255 or floats in [0, 1].

    Raises
    ------
    InputError
        For another dtype or values out of range, naming the range found.
    """
    kind = block.dtype.kind
    if block.size == 0 or block.dtype == np.uint8:
        return
    if kind in "iu":
        lo, hi = int(block.min()), int(block.max())
        if lo < 0 or hi > 255:
            raise input_error(
                argument, f"are integers in [{lo}, {hi}]",
                expected="8-bit values in [0, 255] (or floats in [0, 1])",
                fix="clip or rescale them, e.g. images.astype('uint8') after scaling",
            )
        return
    if kind != "f":
        raise input_error(argument, f"have dtype {block.dtype}",
                          expected="uint8 images, or floats in [0, 1]")
    lo, hi = float(np.nanmin(block)), float(np.nanmax(block))
    if not np.all(np.isfinite(block)):
        raise input_error(argument, "hold NaN or infinite values", expected="finite pixel values")
    if lo < 0 or hi > 1:
        raise input_error(
            argument,
            f"are floats in [{lo:.4g}, {hi:.4g}], out of range",
            expected="float images in [0, 1] (or uint8 in [0, 255])",
            fix="divide 0-255 float images by 255, or pass them as uint8",
        )


class ImageSource:
    """Blocks of images ``(n, channel, row, column)`` and their stimulus labels.

    Parameters
    ----------
    data : numpy array, dask array or list of paths
        Channel-first images, or image files.
    coords : mapping
        Coordinates along ``stimulus`` (``name -> values``).
    size : tuple of int, optional
        ``(rows, columns)`` that image files are resized to.
    """

    def __init__(self, data: Any, coords: Mapping[str, Any], size: tuple[int, int] | None = None):
        self.data = data
        self.coords = dict(coords)
        self.size = size
        self.files = isinstance(data, list)
        self.n = len(data) if self.files else int(data.shape[0])

    def load(self, start: int, stop: int) -> np.ndarray:
        """Load stimuli ``start:stop`` as a checked ``(n, channel, row, column)`` array."""
        if self.files:
            block = np.stack([self._read(path) for path in self.data[start:stop]])
        elif isinstance(self.data, dsa.Array):
            block = np.asarray(self.data[start:stop].compute(scheduler="sync"))
            check_values(block)
        else:
            block = np.asarray(self.data[start:stop])
        return block

    def _read(self, path: Path) -> np.ndarray:
        image_module = import_optional("PIL.Image", extra="dnn", purpose="reading image files")
        try:
            with image_module.open(path) as image:
                image = image.convert("RGB")
                if self.size is not None and image.size != (self.size[1], self.size[0]):
                    image = image.resize((self.size[1], self.size[0]), image_module.BILINEAR)
                array = np.asarray(image, dtype=np.uint8)
        except OSError as err:
            raise input_error("images", f"{os.fspath(path)!r} could not be read ({err})",
                              expected="readable image files") from err
        if self.size is None:
            self.size = array.shape[:2]
        elif array.shape[:2] != tuple(self.size):  # pragma: no cover - resized above
            raise input_error("images", f"{path} has size {array.shape[:2]}")
        return array.transpose(2, 0, 1)

    def shape(self) -> tuple[int, ...]:
        """Shape of one image ``(channel, row, column)`` (reads the first file if needed)."""
        if self.files:
            return self.load(0, 1).shape[1:]
        return tuple(int(s) for s in self.data.shape[1:])

    def fingerprint(self) -> str:
        """A digest that changes when the images change (for resumable extraction)."""
        digest = hashlib.blake2b(digest_size=12)
        if self.files:
            for path in self.data:
                stat = Path(path).stat()
                digest.update(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
            digest.update(repr(self.size).encode())
        elif isinstance(self.data, dsa.Array):
            digest.update(self.data.name.encode())
        else:
            digest.update(repr((self.data.shape, str(self.data.dtype))).encode())
            flat = np.ascontiguousarray(self.data).reshape(-1).view(np.uint8)
            for start in range(0, flat.size, 2**26):
                digest.update(flat[start:start + 2**26])
        return digest.hexdigest()


def _files_in(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise input_error(
            "images", f"the folder {os.fspath(folder)!r} holds no image files",
            expected=f"files ending in {IMAGE_SUFFIXES}",
        )
    return files


def _channel_first(array: Any, argument: str) -> Any:
    if array.ndim == 3:
        return array[:, None]
    if array.ndim != 4:
        raise input_error(
            argument, f"has shape {array.shape}",
            expected="(stimulus, channel, row, column), (stimulus, row, column, channel) "
            "or (stimulus, row, column)",
            cls=DimensionError,
        )
    if array.shape[1] in (1, 3):
        return array
    if array.shape[-1] in (1, 3):
        return array.transpose(0, 3, 1, 2)
    raise input_error(
        argument, f"has shape {array.shape}: neither axis 1 nor the last axis is 1 or 3 "
        "channels", expected="1 (gray) or 3 (RGB) channels", cls=DimensionError,
    )


def _from_xarray(images: xr.DataArray) -> tuple[Any, dict[str, Any]]:
    if "stimulus" not in images.dims:
        raise input_error(
            "images", f"has dims {images.dims}",
            expected=f"dims {_DIMS} (or without 'channel' for gray images)",
            fix="rename the dims, e.g. images.rename({'image': 'stimulus'})", cls=DimensionError,
        )
    if "channel" not in images.dims:
        images = images.expand_dims("channel", axis=1)
    missing = [d for d in _DIMS if d not in images.dims]
    extra = [d for d in images.dims if d not in _DIMS]
    if missing or extra:
        raise input_error(
            "images", f"has dims {images.dims}", expected=f"dims {_DIMS}",
            fix="rename or select the dims so that they are stimulus, channel, row, column",
            cls=DimensionError,
        )
    images = images.transpose(*_DIMS)
    coords = {
        str(name): coord.values for name, coord in images.coords.items()
        if coord.dims == ("stimulus",)
    }
    return images.data, coords


def as_image_source(images: Any, size: int | Sequence[int] | None = None) -> ImageSource:
    """Turn any supported image input into an :class:`ImageSource`.

    Parameters
    ----------
    images : array, DataArray, folder, ``.stim.csv`` path, Stimulus or list of paths
        uint8 images (or floats in [0, 1]): numpy or dask arrays
        ``(stimulus, channel, row, column)`` (channel-last and gray accepted),
        a DataArray with those dims, a folder of image files (sorted by
        name), a dnnbrain ``.stim.csv`` or :class:`Stimulus` of type image,
        or a list of files.
    size : int or (int, int), optional
        Size that image files are resized to when read (default: the first
        file's size); arrays are resized by the network's preprocessing.

    Returns
    -------
    ImageSource
    """
    if size is not None:
        pair = (size, size) if isinstance(size, int | np.integer) else tuple(size)
        if len(pair) != 2 or not all(isinstance(s, int | np.integer) and s > 0 for s in pair):
            raise input_error("size", f"is {size!r}", expected="an int or (rows, columns) > 0")
        size = (int(pair[0]), int(pair[1]))
    if isinstance(images, str | os.PathLike) and Path(images).name.endswith(".stim.csv"):
        images = Stimulus.load(images)
    if isinstance(images, Stimulus):
        paths = images.paths()
        coords = {"stimulus": np.asarray([p.name for p in paths])}
        coords.update({k: images.get(k) for k in images.items if k != "stimID"})
        return ImageSource(paths, coords, size)
    if isinstance(images, str | os.PathLike):
        folder = Path(images)
        if not folder.is_dir():
            raise input_error(
                "images", f"{os.fspath(folder)!r} is not a folder or a .stim.csv file",
                expected="a folder of images, a .stim.csv, or an array",
            )
        paths = _files_in(folder)
        return ImageSource(paths, {"stimulus": np.asarray([p.name for p in paths])}, size)
    if isinstance(images, list | tuple) and images and isinstance(images[0], str | os.PathLike):
        paths = [Path(p) for p in images]
        return ImageSource(paths, {"stimulus": np.asarray([p.name for p in paths])}, size)
    coords: dict[str, Any] = {}
    if isinstance(images, xr.DataArray):
        images, coords = _from_xarray(images)
    elif not isinstance(images, np.ndarray | dsa.Array):
        raise input_error(
            "images", f"is a {type(images).__name__}",
            expected="a numpy/dask array, a DataArray, a folder, a .stim.csv or a Stimulus",
        )
    data = _channel_first(images, "images")
    if not isinstance(data, dsa.Array):
        check_values(data)
    coords.setdefault("stimulus", np.arange(data.shape[0]))
    return ImageSource(data, coords)
