"""Image-stimulus paradigms (pRF apertures) from a folder of frames, a ``.npy`` file or an array.

Frames become a ``(time, y, x)`` paradigm in visual degrees: ``x`` grows to
the right and ``y`` upwards, and since row 0 of an image is the top of the
screen, the ``y`` coord runs from ``+extent`` down to ``-extent``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.schema import as_paradigm

__all__ = ["load_apertures"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]


def _read_image(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".png":
        import matplotlib.image as mpimg

        image = np.asarray(mpimg.imread(path), dtype=np.float32)
        scale = 1.0
    else:
        from xneuro.core.backend import import_optional

        pil = import_optional("PIL.Image", extra="dnn", purpose="reading JPEG/TIFF stimuli")
        with pil.open(path) as im:
            image = np.asarray(im, dtype=np.float32)
        scale = 255.0 if image.max() > 1 else 1.0
    if image.ndim == 3:
        image = image[..., :3].mean(axis=-1)  # grayscale; alpha ignored
    return image / scale


def _frames(source: Any) -> np.ndarray:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                           key=_natural_key)
            if not files:
                raise input_error("source", f"folder {os.fspath(path)!r} holds no image files",
                                  expected=f"frames with suffixes {IMAGE_SUFFIXES}",
                                  fix="pass the folder of stimulus frames")
            frames = [_read_image(f) for f in files]
            shapes = {f.shape for f in frames}
            if len(shapes) != 1:
                raise input_error("source", f"holds frames of sizes {sorted(shapes)}",
                                  cls=DimensionError, expected="frames of one size",
                                  fix="resize the frames to one size")
            return np.stack(frames)
        if path.suffix == ".npy" and path.is_file():
            return np.load(path, mmap_mode="r")
        raise input_error("source", f"{os.fspath(path)!r} is not a folder of frames or a "
                          ".npy file", expected="a folder of images, a .npy file or an array",
                          fix="check the path")
    return np.asarray(source)


def load_apertures(
    source: Any,
    *,
    tr: float | None = None,
    extent: float = 1.0,
    downsample: int = 1,
    threshold: float | None = None,
) -> xr.DataArray:
    """Read image frames as a ``(time, y, x)`` aperture paradigm.

    Parameters
    ----------
    source : path or array-like
        A folder of image frames (PNG read by matplotlib; JPEG/TIFF/... need
        Pillow), sorted by name with numbers in natural order; a ``.npy`` file;
        or an array ``(time, y, x)`` (``(time, y, x, rgb)`` is made gray).
    tr : float, optional
        Seconds per frame; sets the time coord and ``attrs["tr"]``.
    extent : float, default 1.0
        Half-width of the field in degrees: ``x`` spans ``[-extent, extent]``
        and ``y`` the same scaled to the frame's aspect ratio.
    downsample : int, default 1
        Average blocks of ``downsample x downsample`` pixels (edges that do
        not fill a block are cropped).
    threshold : float, optional
        Binarize: values above it become 1, others 0.

    Returns
    -------
    xarray.DataArray
        ``(time, y, x)`` float32 named ``paradigm``, coords ``x`` and ``y`` in
        degrees (``y`` decreasing: row 0 is the top of the screen).

    Raises
    ------
    InputError
        For an empty folder, frames of different sizes, or arrays that are not
        3-D (or 4-D with colour).
    """
    frames = _frames(source)
    if frames.ndim == 4 and frames.shape[-1] in (3, 4):
        frames = frames[..., :3].mean(axis=-1)
    if frames.ndim != 3:
        raise input_error("source", f"gives frames of shape {frames.shape}", cls=DimensionError,
                          expected="(time, y, x) frames", fix="stack the frames along axis 0")
    if not np.isfinite(extent) or extent <= 0:
        raise input_error("extent", f"is {extent!r}", expected="a positive number of degrees",
                          fix="pass extent=10.0 for a 20-degree-wide screen")
    if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample < 1:
        raise input_error("downsample", f"is {downsample!r}", expected="a positive int",
                          fix="pass downsample=4")
    values = np.asarray(frames, dtype=np.float32)
    if downsample > 1:
        n, h, w = values.shape
        h, w = h // downsample * downsample, w // downsample * downsample
        values = values[:, :h, :w].reshape(n, h // downsample, downsample, w // downsample,
                                           downsample).mean(axis=(2, 4))
    if threshold is not None:
        values = (values > threshold).astype(np.float32)
    n_y, n_x = values.shape[1:]
    x = np.linspace(-extent, extent, n_x)
    half_height = extent * (n_y - 1) / max(n_x - 1, 1) if n_x > 1 else extent
    y = np.linspace(half_height, -half_height, n_y)
    da = xr.DataArray(values, dims=("time", "y", "x"), name="paradigm",
                      coords={"x": ("x", x, {"units": "deg"}), "y": ("y", y, {"units": "deg"})})
    return as_paradigm(da, tr=tr, argument="source")
