"""Provenance: settings fingerprints and the attributes stamped on results."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xneuro.core import provenance
from xneuro.core.errors import InputError
from xneuro.core.provenance import PROVENANCE_KEYS, fingerprint, has_provenance, stamp


@dataclasses.dataclass
class Model:
    sigma: float
    size: tuple[int, int]


def test_fingerprint_is_short_hex_and_stable():
    settings = {"alpha": 1.0, "model": "prf", "n": 3}
    value = fingerprint(settings)
    assert len(value) == 16
    int(value, 16)
    assert fingerprint(dict(settings)) == value
    # pinned: a change here changes every job's records
    assert fingerprint({}) == "44136fa355b3678a"


def test_fingerprint_ignores_key_order_and_container_kinds():
    a = {"b": {"y": 1, "x": [1, 2]}, "a": (1.5, "s")}
    b = {"a": [1.5, "s"], "b": {"x": (1, 2), "y": 1}}
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    ("numpy_value", "plain"),
    [
        (np.float32(0.5), 0.5),
        (np.int64(3), 3),
        (np.bool_(True), True),
        (np.array([1, 2, 3]), [1, 2, 3]),
        (np.array([[1.0, 2.0]]), [[1.0, 2.0]]),
        (Path("/data/sub-01.zarr"), "/data/sub-01.zarr"),
        (np.dtype("float32"), "float32"),
        ({3, 1, 2}, [1, 2, 3]),
    ],
)
def test_fingerprint_converts_to_plain_json(numpy_value, plain):
    assert fingerprint({"v": numpy_value}) == fingerprint({"v": plain})


def test_fingerprint_differs_for_other_values():
    assert fingerprint({"alpha": 1.0}) != fingerprint({"alpha": 2.0})
    assert fingerprint({"alpha": 1}) != fingerprint({"beta": 1})
    assert fingerprint({"alpha": float("nan")}) == fingerprint({"alpha": float("nan")})


def test_fingerprint_of_dataclasses_and_functions():
    assert fingerprint({"m": Model(1.0, (2, 3))}) == fingerprint({"m": Model(1.0, [2, 3])})
    assert fingerprint({"m": Model(1.0, (2, 3))}) != fingerprint({"m": Model(2.0, (2, 3))})
    assert fingerprint({"f": np.mean}) == fingerprint({"f": np.mean})


@pytest.mark.parametrize("bad", [object(), lambda x: x])
def test_unsupported_setting_values_raise(bad):
    with pytest.raises(InputError, match=r"settings\['model'\]"):
        fingerprint({"model": bad})


def test_settings_must_be_a_mapping():
    with pytest.raises(InputError, match="settings"):
        fingerprint([("a", 1)])


@pytest.fixture
def dataset():
    return xr.Dataset({"r2": ("voxel", np.arange(3.0))}, attrs={"tr": 2.0})


def test_stamp_adds_the_provenance_attrs(dataset):
    settings = {"alpha": np.float64(0.5), "layers": ("conv1", "conv2")}
    out = stamp(dataset, "xneuro.encoding.fit", settings)
    assert set(PROVENANCE_KEYS) <= set(out.attrs)
    assert out.attrs["tr"] == 2.0
    assert out.attrs["xneuro_function"] == "xneuro.encoding.fit"
    assert json.loads(out.attrs["xneuro_settings"]) == {
        "alpha": 0.5,
        "layers": ["conv1", "conv2"],
    }
    assert out.attrs["xneuro_fingerprint"] == fingerprint(settings)
    created = dt.datetime.fromisoformat(out.attrs["xneuro_created"])
    assert created.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=1)
    assert all(isinstance(out.attrs[key], str) for key in PROVENANCE_KEYS)
    # a shallow copy: the input is untouched and the data shared
    assert "xneuro_function" not in dataset.attrs
    assert not has_provenance(dataset)
    assert has_provenance(out)
    assert np.shares_memory(out.r2.values, dataset.r2.values)


def test_stamp_without_settings(dataset):
    out = stamp(dataset.r2, "xneuro.save")
    assert out.attrs["xneuro_settings"] == "{}"
    assert isinstance(out, xr.DataArray)
    assert has_provenance(out)


def test_stamp_a_datatree_on_its_root(dataset):
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"model": "net"}), "/layer": dataset})
    out = stamp(tree, "xneuro.dnn.extract", {"layers": ["layer"]})
    assert isinstance(out, xr.DataTree)
    assert has_provenance(out)
    assert out.attrs["model"] == "net"
    assert "xneuro_function" not in out["layer"].attrs
    assert not has_provenance(tree)


def test_stamp_records_the_version(dataset, monkeypatch):
    from importlib.metadata import version

    assert stamp(dataset, "f").attrs["xneuro_version"] == version("xneuro")

    def missing(name):
        raise PackageNotFoundError(name)

    monkeypatch.setattr(provenance, "version", missing)
    provenance.xneuro_version.cache_clear()  # looked up once per process
    try:
        assert stamp(dataset, "f").attrs["xneuro_version"] == "unknown"
    finally:
        provenance.xneuro_version.cache_clear()


def test_stamp_and_has_provenance_check_their_arguments(dataset):
    with pytest.raises(InputError, match="obj"):
        stamp(np.zeros(3), "f")
    with pytest.raises(InputError, match="function"):
        stamp(dataset, "")
    with pytest.raises(InputError, match="obj"):
        has_provenance({"xneuro_version": "1"})
