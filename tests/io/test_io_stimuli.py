"""Aperture paradigms from frames on disk or in memory."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest

from xneuro.core.errors import DimensionError, InputError
from xneuro.datasets import bar_sweeps
from xneuro.io import load_apertures


@pytest.fixture
def frames():
    return bar_sweeps(12, steps=4)  # (time, y, x) in {0, 1}


def test_folder_of_png_frames_in_natural_order(tmp_path, frames):
    for n, frame in enumerate(frames):
        mpimg.imsave(tmp_path / f"frame_{n}.png", frame, cmap="gray", vmin=0, vmax=1)
    paradigm = load_apertures(tmp_path, tr=1.5, extent=5.0)
    assert paradigm.dims == ("time", "y", "x") and paradigm.attrs["tr"] == 1.5
    np.testing.assert_allclose(paradigm.values, frames, atol=1 / 255)
    assert paradigm.x.values[[0, -1]].tolist() == [-5.0, 5.0]
    assert paradigm.y.values[[0, -1]].tolist() == [5.0, -5.0]  # row 0 is the top


def test_array_and_npy_file(tmp_path, frames):
    np.save(tmp_path / "apertures.npy", frames)
    from_file = load_apertures(tmp_path / "apertures.npy")
    from_array = load_apertures(frames)
    np.testing.assert_array_equal(from_file.values, from_array.values)


def test_downsample_and_threshold(frames):
    small = load_apertures(frames, downsample=2, threshold=0.5)
    assert small.shape == (frames.shape[0], 6, 6)
    blocks = frames.reshape(-1, 6, 2, 6, 2).mean(axis=(2, 4))
    np.testing.assert_array_equal(small.values, (blocks > 0.5).astype(np.float32))


def test_rgb_frames_become_gray(frames):
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    np.testing.assert_array_equal(load_apertures(rgb).values, frames)


def test_bad_sources(tmp_path):
    with pytest.raises(InputError, match="holds no image files"):
        load_apertures(tmp_path)
    with pytest.raises(DimensionError, match=r"\(time, y, x\) frames"):
        load_apertures(np.ones((4, 5)))
    with pytest.raises(InputError, match="extent"):
        load_apertures(np.ones((2, 3, 3)), extent=0)
    mpimg.imsave(tmp_path / "a.png", np.ones((4, 4)))
    mpimg.imsave(tmp_path / "b.png", np.ones((5, 4)))
    with pytest.raises(DimensionError, match="frames of sizes"):
        load_apertures(tmp_path)
