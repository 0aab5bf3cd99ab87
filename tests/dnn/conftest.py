"""Fixtures of the DNN tests: small labeled layers and trees, the seeded sample network."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr


@pytest.fixture
def layer(rng):
    """A conv layer (stimulus 12, channel 4, row 5, column 6), float32, with labels."""
    values = rng.standard_normal((12, 4, 5, 6)).astype(np.float32)
    return xr.DataArray(
        values,
        dims=("stimulus", "channel", "row", "column"),
        coords={"stimulus": [f"s{i}" for i in range(12)], "category": ("stimulus", list("ab") * 6)},
        name="conv",
    )


@pytest.fixture
def tree(layer, rng):
    """Two layers: the conv layer and a fully connected one (stimulus 12, unit 7)."""
    fc = xr.DataArray(rng.standard_normal((12, 7)).astype(np.float32), dims=("stimulus", "unit"),
                      coords={"stimulus": layer["stimulus"].values})
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs={"note": "test"}),
        "/conv": xr.Dataset({"activation": layer.rename(None)}),
        "/fc": xr.Dataset({"activation": fc}),
    })


@pytest.fixture(scope="session")
def net():
    """The seeded small AlexNet-like network (skips without torch)."""
    pytest.importorskip("torch")
    from xneuro.dnn.nets import small_alexnet

    return small_alexnet(seed=0, width=8)


@pytest.fixture(scope="session")
def images():
    """12 uint8 sample images of 32 x 32 pixels."""
    from xneuro.datasets import sample_images

    return sample_images(3, size=32, seed=1)
