"""Zarr v3 storage: round trips, chunk choice, provenance, bad inputs."""

from __future__ import annotations

import json

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr
from zarr.codecs import ZstdCodec

from xneuro.core.errors import DimensionError, InputError
from xneuro.core.options import set_options
from xneuro.core.provenance import PROVENANCE_KEYS, stamp
from xneuro.core.store import choose_chunks, open, save

MiB = 2**20


@pytest.fixture
def bold(rng) -> xr.DataArray:
    """(time, voxel) float32, 3.2 MB: several 1 MiB chunks along voxel."""
    n_time, n_voxel = 20, 40_000
    return xr.DataArray(
        rng.standard_normal((n_time, n_voxel), dtype="float32"),
        dims=("time", "voxel"),
        coords={
            "time": np.arange(n_time) * 1.5,
            "voxel": np.arange(n_voxel),
            "roi": ("voxel", np.where(np.arange(n_voxel) < 20_000, "V1", "hV4")),
            "hemi": ("voxel", np.array(["left", "right"] * (n_voxel // 2), dtype=object)),
            "subject": "01",
        },
        name="bold",
        attrs={"tr": 1.5, "units": "percent signal change"},
    )


@pytest.fixture
def fit(rng) -> xr.Dataset:
    n_voxel = 5_000
    voxel = np.arange(n_voxel)
    return xr.Dataset(
        {
            "x": ("voxel", rng.standard_normal(n_voxel)),
            "r2": ("voxel", rng.random(n_voxel).astype("float32")),
            "weights": (("feature", "voxel"), rng.standard_normal((60, n_voxel))),
            "hrf": ("lag", rng.random(12)),
        },
        coords={
            "voxel": voxel,
            "i": ("voxel", voxel % 10),
            "roi": ("voxel", np.where(voxel % 2, "V1", "V2")),
            "feature": [f"f{k}" for k in range(60)],
            "subject": "01",
            "session": 2,
        },
        attrs={"model": "GaussianPRF2D", "alpha": 1.0},
    )


def test_dataarray_round_trip(tmp_path, bold):
    with set_options(chunk_bytes=MiB):
        expected_chunks = choose_chunks(bold)
        written = save(bold, tmp_path / "bold.zarr")
    assert expected_chunks == {"time": 20, "voxel": MiB // (20 * 4)}

    reopened = open(tmp_path / "bold.zarr")
    assert isinstance(reopened, xr.DataArray)
    assert reopened.name == "bold"
    xr.testing.assert_identical(reopened, written)
    assert reopened.chunks is not None
    assert reopened.chunksizes["voxel"][0] == expected_chunks["voxel"]
    assert reopened.chunksizes["time"] == (20,)
    assert set(PROVENANCE_KEYS) <= set(reopened.attrs)
    assert reopened.attrs["tr"] == 1.5
    assert reopened.attrs["xneuro_function"] == "xneuro.save"
    assert list(reopened.roi.values[:1]) == ["V1"]
    # the input is not modified
    assert "xneuro_version" not in bold.attrs
    np.testing.assert_array_equal(reopened.values, bold.values)


def test_dataarray_without_name_round_trip(tmp_path, bold):
    unnamed = bold.rename(None)
    written = save(unnamed, tmp_path / "x.zarr")
    reopened = open(tmp_path / "x.zarr")
    assert reopened.name is None
    xr.testing.assert_identical(reopened, written)


def test_dataarray_named_like_a_coordinate_round_trips(tmp_path):
    da = xr.DataArray(np.arange(4.0), dims="voxel", coords={"voxel": np.arange(4)}, name="voxel")
    written = save(da, tmp_path / "v.zarr")
    reopened = open(tmp_path / "v.zarr")
    assert reopened.name == "voxel"
    xr.testing.assert_identical(reopened, written)


def test_dataset_round_trip(tmp_path, fit):
    with set_options(chunk_bytes=MiB):
        chunks = choose_chunks(fit)
        written = save(fit, tmp_path / "fit.zarr", settings={"alpha": 1.0})
    # the largest variable (weights, 60 float64 per voxel) sets the voxel chunk
    assert chunks["voxel"] == MiB // (60 * 8)
    reopened = open(tmp_path / "fit.zarr")
    assert isinstance(reopened, xr.Dataset)
    xr.testing.assert_identical(reopened, written)
    assert reopened.attrs["xneuro_settings"] == '{"alpha":1.0}'
    assert reopened.chunks["voxel"][0] == chunks["voxel"]
    assert reopened.weights.chunksizes["feature"] == (60,)
    assert reopened.hrf.chunksizes["lag"] == (12,)
    assert reopened.session.item() == 2


def test_storage_layout(tmp_path, fit):
    with set_options(chunk_bytes=MiB):
        save(fit, tmp_path / "fit.zarr")
    group = zarr.open_group(tmp_path / "fit.zarr", mode="r")
    assert group.metadata.zarr_format == 3
    assert group.metadata.consolidated_metadata is not None
    # coordinates in one chunk, data chunked on voxel only
    for name in ("voxel", "i", "roi", "feature"):
        assert group[name].chunks == group[name].shape, name
    assert group["weights"].chunks == (60, MiB // (60 * 8))
    assert any(isinstance(c, ZstdCodec) for c in group["weights"].compressors)
    assert any(isinstance(c, ZstdCodec) for c in group["roi"].compressors)


def test_datatree_round_trip(tmp_path, rng):
    stimulus = [f"img{k}" for k in range(8)]
    tree = xr.DataTree.from_dict(
        {
            "/": xr.Dataset(coords={"stimulus": stimulus}, attrs={"model": "alexnet"}),
            "/conv1": xr.Dataset(
                {"activation": (("stimulus", "channel", "row"), rng.random((8, 4, 5)))},
                attrs={"layer": "conv1"},
            ),
            "/fc": xr.Dataset(
                {"activation": (("stimulus", "unit"), rng.random((8, 10)))},
                attrs={"layer": "fc"},
            ),
        }
    )
    written = save(tree, tmp_path / "act.zarr", chunks={"stimulus": 3})
    reopened = open(tmp_path / "act.zarr")
    assert isinstance(reopened, xr.DataTree)
    xr.testing.assert_identical(reopened, written)
    assert set(PROVENANCE_KEYS) <= set(reopened.attrs)
    assert reopened["conv1"].activation.chunks == ((3, 3, 2), (4,), (5,))
    assert reopened["fc"].activation.chunks == ((3, 3, 2), (10,))


def test_reopened_and_rechunked_data_can_be_saved_again(tmp_path, fit):
    """Stale encoding["chunks"] from open_zarr must not break the write (xarray#4380)."""
    save(fit, tmp_path / "a.zarr", chunks={"voxel": 1000})
    reopened = open(tmp_path / "a.zarr")
    assert reopened.x.encoding["chunks"] == (1000,)
    subset = reopened.isel(voxel=slice(0, 2500)).chunk({"voxel": 700})
    written = save(subset, tmp_path / "b.zarr", chunks={"voxel": 600})
    again = open(tmp_path / "b.zarr")
    xr.testing.assert_identical(again, written)
    assert again.chunks["voxel"][:2] == (600, 600)
    # provenance was already present, so it is kept, not restamped
    assert again.attrs["xneuro_created"] == reopened.attrs["xneuro_created"]


def test_existing_provenance_is_kept(tmp_path, fit):
    stamped = stamp(fit, "xneuro.encoding.fit", {"alpha": 2.0})
    written = save(stamped, tmp_path / "fit.zarr")
    assert written.attrs == stamped.attrs
    assert open(tmp_path / "fit.zarr").attrs["xneuro_function"] == "xneuro.encoding.fit"


def test_mode_w_replaces_a_store(tmp_path, fit):
    path = tmp_path / "fit.zarr"
    save(fit, path)
    with pytest.raises(InputError, match="already exists") as info:
        save(fit.r2, path)
    assert str(path) in str(info.value)
    assert "mode='w'" in str(info.value)
    written = save(fit.r2, path, mode="w")
    xr.testing.assert_identical(open(path), written)


def test_mode_w_never_replaces_a_directory_that_is_not_a_store(tmp_path, fit):
    path = tmp_path / "notes"
    path.mkdir()
    (path / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a Zarr store"):
        save(fit, path, mode="w")
    assert (path / "notes.txt").exists()


@pytest.mark.parametrize(
    ("obj", "match"),
    [(np.zeros(3), "obj: is a ndarray"), ({"r2": [1, 2]}, "obj: is a dict")],
)
def test_save_rejects_non_xarray_objects(tmp_path, obj, match):
    with pytest.raises(InputError, match=match):
        save(obj, tmp_path / "x.zarr")
    assert not (tmp_path / "x.zarr").exists()


@pytest.mark.parametrize("path", [3, None, b"x.zarr", "", "s3://bucket/x.zarr"])
def test_save_rejects_bad_paths(fit, path):
    with pytest.raises(InputError, match="path"):
        save(fit, path)


def test_save_rejects_bad_mode_and_chunks(tmp_path, fit):
    with pytest.raises(InputError, match="mode"):
        save(fit, tmp_path / "x.zarr", mode="a")
    with pytest.raises(InputError, match="chunks"):
        save(fit, tmp_path / "x.zarr", chunks={"voxel": 0})
    with pytest.raises(InputError, match="chunks"):
        save(fit, tmp_path / "x.zarr", chunks=[100])
    with pytest.raises(DimensionError, match="unit_dim"):
        save(fit, tmp_path / "x.zarr", unit_dim="trial")
    assert not (tmp_path / "x.zarr").exists()


def test_open_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist") as info:
        open(tmp_path / "missing.zarr")
    assert "missing.zarr" in str(info.value)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "data.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(InputError, match="not a Zarr store"):
        open(tmp_path / "plain")
    with pytest.raises(InputError, match="path"):
        open(42)


def test_open_with_auto_chunks(tmp_path, fit):
    save(fit, tmp_path / "fit.zarr", chunks={"voxel": 100})
    reopened = open(tmp_path / "fit.zarr", chunks="auto")
    assert reopened.chunks is not None
    xr.testing.assert_equal(reopened, fit)


# ----------------------------------------------------------------------------- choose_chunks


def lazy(shape, dims, dtype="float32"):
    return xr.DataArray(dsa.zeros(shape, dtype=dtype, chunks=-1), dims=dims)


@pytest.mark.parametrize(
    ("obj", "kwargs", "expected"),
    [
        # 8 MiB default target: 100 float32 per voxel -> 20971 voxels per chunk
        (lazy((100, 200_000), ("time", "voxel")), {}, {"time": 100, "voxel": 20_971}),
        (lazy((100, 200_000), ("time", "voxel")), {"target_bytes": 2 * MiB}, {"voxel": 5242}),
        # below 1 MiB and above 16 MiB targets are clamped
        (lazy((100, 200_000), ("time", "voxel")), {"target_bytes": 1000}, {"voxel": 2621}),
        (lazy((100, 200_000), ("time", "voxel")), {"target_bytes": 2**30}, {"voxel": 41_943}),
        # a small object is one chunk
        (lazy((10, 50), ("time", "voxel")), {}, {"time": 10, "voxel": 50}),
        # only the unit dim is split; a unit larger than the target is one element
        (lazy((5_000_000, 4), ("time", "voxel"), "float64"), {}, {"time": 5_000_000, "voxel": 1}),
        # 1-D along time: one chunk
        (lazy((3_000_000,), ("time",)), {}, {"time": 3_000_000}),
        # stimulus is a unit dim, even when another dim is larger
        (
            lazy((1000, 4096), ("stimulus", "channel")),
            {"target_bytes": MiB},
            {"stimulus": 64, "channel": 4096},
        ),
        # no known unit dim: the largest dim that is not time
        (
            lazy((50, 30, 4000), ("time", "a", "b")),
            {"target_bytes": MiB},
            {"time": 50, "a": 30, "b": 174},
        ),
        # explicit unit dim
        (
            lazy((1000, 4096), ("stimulus", "channel")),
            {"unit_dim": "channel", "target_bytes": MiB},
            {"stimulus": 1000, "channel": 262},
        ),
        # a zero-length dimension still gets a chunk size of 1
        (lazy((0, 10), ("time", "voxel")), {}, {"time": 1, "voxel": 10}),
    ],
)
def test_choose_chunks(obj, kwargs, expected):
    chunks = choose_chunks(obj, **kwargs)
    assert set(chunks) == set(obj.dims)
    for dim, size in expected.items():
        assert chunks[dim] == size, dim
    # the chosen chunk of the largest variable stays within the clamp where it can
    nbytes = obj.dtype.itemsize * int(np.prod([chunks[d] for d in obj.dims]))
    assert nbytes <= 16 * MiB or min(chunks.values()) == 1


def test_choose_chunks_uses_the_option(fit):
    with set_options(chunk_bytes=2 * MiB):
        assert choose_chunks(fit)["voxel"] == 2 * MiB // (60 * 8)


def test_choose_chunks_errors(fit):
    with pytest.raises(DimensionError, match="'trial'"):
        choose_chunks(fit, unit_dim="trial")
    with pytest.raises(InputError, match="target_bytes"):
        choose_chunks(fit, target_bytes=0)
    with pytest.raises(InputError, match="obj"):
        choose_chunks(np.zeros(3))
    with pytest.raises(InputError, match="DataTree"):
        choose_chunks(xr.DataTree(fit))
