"""The ``xneuro`` accessor: each method agrees with its plain-function twin and stays lazy."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xneuro
from xneuro.core import schema, store


@pytest.fixture
def bold():
    rng = np.random.default_rng(0)
    return xr.DataArray(
        rng.normal(size=(20, 30)).astype("float32"),
        dims=("time", "voxel"),
        coords={"time": np.arange(20) * 1.5, "voxel": np.arange(30)},
        name="bold",
        attrs={"tr": 1.5},
    )


def test_to_pandas_twin(bold):
    pd.testing.assert_frame_equal(bold.xneuro.to_pandas(), schema.to_pandas(bold))


@pytest.mark.parametrize("kind", ["dataarray", "dataset", "datatree"])
def test_save_twin(bold, kind, tmp_path):
    obj = {
        "dataarray": bold,
        "dataset": bold.to_dataset(),
        "datatree": xr.DataTree.from_dict({"/a": bold.to_dataset(), "/b": (bold * 2).to_dataset()}),
    }[kind]
    via_accessor = obj.xneuro.save(tmp_path / "a.zarr", settings={"k": 1})
    via_function = store.save(obj, tmp_path / "f.zarr", settings={"k": 1})
    reopened_a, reopened_f = xneuro.open(tmp_path / "a.zarr"), xneuro.open(tmp_path / "f.zarr")
    for reopened in (reopened_a, reopened_f):
        assert reopened.attrs["xneuro_fingerprint"] == via_function.attrs["xneuro_fingerprint"]
    if kind == "datatree":
        xr.testing.assert_equal(reopened_a, reopened_f)
    else:
        xr.testing.assert_equal(reopened_a, via_accessor)
        xr.testing.assert_equal(reopened_f, via_function)


def test_accessor_access_keeps_dask_lazy(bold, no_compute):
    lazy = bold.chunk({"voxel": 10})
    for obj in (lazy, lazy.to_dataset()):
        accessor = obj.xneuro
        assert accessor._obj is obj
    assert lazy.chunks is not None


def test_lazy_save_and_open_compute_only_when_written(bold, tmp_path):
    lazy = bold.chunk({"voxel": 10}) * 2
    store.save(lazy, tmp_path / "lazy.zarr")
    reopened = xneuro.open(tmp_path / "lazy.zarr")
    assert reopened.chunks is not None  # reopened lazily
    np.testing.assert_allclose(reopened.values, bold.values * 2)
