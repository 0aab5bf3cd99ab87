import numpy as np
import pytest
import xarray as xr

from xneuro.core.errors import InputError
from xneuro.datasets import CATEGORIES, bar_sweeps, sample_bold, sample_images


def test_sample_bold_is_deterministic_and_labeled():
    a, b = sample_bold(n_voxels=50, seed=3), sample_bold(n_voxels=50, seed=3)
    xr.testing.assert_identical(a, b)
    assert a["bold"].dims == ("time", "voxel")
    assert a["paradigm"].dims == ("time", "y", "x")
    np.testing.assert_allclose(np.diff(a.time), a.attrs["tr"])
    assert not sample_bold(n_voxels=50, seed=4)["bold"].equals(a["bold"])


def test_sample_bold_carries_signal_at_the_true_prf():
    ds = sample_bold(n_voxels=30, noise=0.0)
    # a noise-free voxel's response peaks when the bar covers its pRF centre
    assert float(ds["bold"].std("time").min()) > 0


@pytest.mark.parametrize(("kwargs", "match"), [({"n_voxels": 0}, "n_voxels"), ({"tr": 0}, "tr")])
def test_sample_bold_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        sample_bold(**kwargs)


def test_bar_sweeps_binary():
    frames = bar_sweeps(10)
    assert frames.shape[1:] == (10, 10)
    assert set(np.unique(frames)) == {0.0, 1.0}


def test_sample_images():
    images = sample_images(2, size=32, seed=1)
    assert images.dtype == np.uint8
    assert images.dims == ("stimulus", "channel", "row", "column")
    assert images.shape == (2 * len(CATEGORIES), 3, 32, 32)
    assert list(np.unique(images.category)) == sorted(CATEGORIES)
    xr.testing.assert_identical(images, sample_images(2, size=32, seed=1))
    assert int(images.max()) > 200 and int(images.min()) < 50


@pytest.mark.parametrize(("kwargs", "match"), [({"n_per_category": 0}, "n_per_category"), ({"size": 4}, "size")])
def test_sample_images_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        sample_images(**kwargs)
