"""Tests of xneuro.core.schema: canonical dims, converters, validators."""

from __future__ import annotations

import string

import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from xneuro.core import schema
from xneuro.core.errors import DimensionError, InputError
from xneuro.core.schema import (
    KINDS,
    TIME,
    VOXEL,
    as_paradigm,
    as_parameters,
    as_timeseries,
    check_aligned,
    check_core_dim_unchunked,
    check_dims,
    check_finite,
    check_nonconstant,
    to_pandas,
)


def _bold(rng, n_time=6, n_voxel=4, tr=2.0):
    return as_timeseries(rng.normal(size=(n_time, n_voxel)), tr=tr,
                         voxel=[f"v{i}" for i in range(n_voxel)])


# ----------------------------------------------------------------- constants
def test_constants_and_kinds():
    assert (schema.TIME, schema.VOXEL, schema.STIMULUS, schema.STIMULUS_) == (
        "time", "voxel", "stimulus", "stimulus_")
    assert set(KINDS) == {"timeseries", "paradigm", "parameters", "activation", "rdm",
                          "berg_response", "mass_output"}
    assert KINDS["timeseries"].layouts == (("time", "voxel"),)
    assert KINDS["parameters"].container == "Dataset"
    assert ("stimulus", "unit") in KINDS["activation"].layouts
    with pytest.raises(TypeError):
        KINDS["new"] = KINDS["rdm"]  # type: ignore[index]


# ------------------------------------------------------------- as_timeseries
def test_timeseries_from_numpy(rng):
    arr = rng.normal(size=(5, 3))
    da = as_timeseries(arr)
    assert da.dims == (TIME, VOXEL) and da.name == "bold"
    np.testing.assert_array_equal(da.values, arr)
    np.testing.assert_array_equal(da.voxel, np.arange(3))
    np.testing.assert_array_equal(da.time, np.arange(5))
    assert "tr" not in da.attrs and "units" not in da.time.attrs

    da = as_timeseries(arr, tr=1.5)
    np.testing.assert_allclose(da.time, np.arange(5) * 1.5)
    assert da.attrs["tr"] == 1.5 and da.time.attrs["units"] == "s"


def test_timeseries_one_voxel_and_bad_ndim(rng):
    assert as_timeseries(np.arange(4.0)).shape == (4, 1)
    with pytest.raises(DimensionError, match=r"data: has shape \(2, 3, 4\).*brain mask"):
        as_timeseries(np.zeros((2, 3, 4)))
    with pytest.raises(InputError, match="bold: is a set"):
        as_timeseries({1, 2}, argument="bold")


def test_timeseries_from_dataframe(rng):
    df = pd.DataFrame(rng.normal(size=(4, 2)), index=pd.Index([0.0, 0.8, 1.6, 2.4], name="t"),
                      columns=["a", "b"])
    da = as_timeseries(df, tr=0.8)
    np.testing.assert_allclose(da.time, df.index)
    assert list(da.voxel.values) == ["a", "b"] and da.time.attrs["units"] == "s"
    # a default RangeIndex with tr is frame numbers
    da = as_timeseries(df.reset_index(drop=True), tr=2.0)
    np.testing.assert_allclose(da.time, [0, 2, 4, 6])
    # a non-numeric index is replaced
    da = as_timeseries(df.set_axis(list("pqrs")), tr=1.0)
    np.testing.assert_allclose(da.time, np.arange(4.0))
    # a TimedeltaIndex becomes seconds
    da = as_timeseries(df.set_axis(pd.to_timedelta([0, 500, 1000, 1500], unit="ms")))
    np.testing.assert_allclose(da.time, [0, 0.5, 1, 1.5])
    # a Series is one voxel labeled by its name
    assert as_timeseries(df["a"]).voxel.values.tolist() == ["a"]


def test_timeseries_multiindex_columns_round_trip(rng):
    cols = pd.MultiIndex.from_tuples([(1, 2, 3), (4, 5, 6), (7, 8, 9)], names=["i", "j", "k"])
    df = pd.DataFrame(rng.normal(size=(3, 3)), columns=cols,
                      index=pd.Index([0.0, 1.0, 2.0], name="time"))
    da = as_timeseries(df)
    assert isinstance(da.indexes["voxel"], pd.MultiIndex)
    np.testing.assert_array_equal(da.k, [3, 6, 9])
    pd.testing.assert_frame_equal(to_pandas(da), df)


def test_timeseries_from_xarray(rng):
    da = xr.DataArray(rng.normal(size=(3, 5)), dims=("voxel", "time"), name="sig")
    out = as_timeseries(da, tr=2.0)
    assert out.dims == (TIME, VOXEL) and out.name == "sig" and out.attrs["tr"] == 2.0
    assert da.attrs == {} and "time" not in da.coords  # the input is not modified
    np.testing.assert_allclose(out.time, [0, 2, 4, 6, 8])
    assert as_timeseries(xr.DataArray(np.zeros((5, 3)))).dims == (TIME, VOXEL)
    assert as_timeseries(xr.DataArray(np.zeros(5), dims="time")).shape == (5, 1)
    assert as_timeseries(da.to_dataset()).name == "sig"
    with pytest.raises(DimensionError, match=r"data: has dims \('t', 'v'\).*rename.*'t': 'time'"):
        as_timeseries(xr.DataArray(np.zeros((2, 2)), dims=("t", "v")))
    with pytest.raises(InputError, match=r"data: is a Dataset with variables \['a', 'b'\]"):
        as_timeseries(xr.Dataset({"a": da, "b": da}))


def test_timeseries_time_and_labels_errors(rng):
    arr = rng.normal(size=(4, 2))
    da = as_timeseries(arr, time=[0.0, 1.0, 2.0, 3.0], voxel=["a", "b"])
    assert da.time.attrs["units"] == "s" and list(da.voxel.values) == ["a", "b"]
    with pytest.raises(InputError, match=r"data time: has steps of 1 s.*tr=2"):
        as_timeseries(arr, time=[0.0, 1.0, 2.0, 3.0], tr=2.0)
    with pytest.raises(InputError, match=r"data time: is not strictly increasing.*sortby"):
        as_timeseries(arr, time=[0.0, 2.0, 1.0, 3.0])
    with pytest.raises(DimensionError, match="data time: has 3 values; expected 4"):
        as_timeseries(arr, time=[0.0, 1.0, 2.0])
    with pytest.raises(InputError, match="data tr: is -1"):
        as_timeseries(arr, tr=-1)
    with pytest.raises(DimensionError, match="data voxel labels: has 3 labels; expected 2"):
        as_timeseries(arr, voxel=["a", "b", "c"])
    with pytest.raises(InputError, match=r"data voxel labels: has duplicates \['a'\]"):
        as_timeseries(pd.DataFrame(arr, columns=["a", "a"]))
    with pytest.raises(InputError, match="data: has non-numeric dtype"):
        as_timeseries(pd.DataFrame({"a": ["x", "y"]}))


def test_timeseries_keeps_dask_lazy(rng, no_compute):
    arr = dsa.from_array(rng.normal(size=(8, 6)), chunks=(8, 3))
    da = as_timeseries(arr, tr=1.0)
    assert isinstance(da.data, dsa.Array) and da.chunks == ((8,), (3, 3))
    lab = xr.DataArray(arr.T, dims=("voxel", "time"))
    assert isinstance(as_timeseries(lab).data, dsa.Array)


# --------------------------------------------------------------- as_paradigm
def test_paradigm_from_numpy(rng):
    assert as_paradigm(np.arange(5.0)).dims == (TIME, "x")
    assert as_paradigm(np.arange(5.0)).shape == (5, 1)
    p = as_paradigm(rng.normal(size=(5, 7)), tr=1.5)
    assert p.dims == (TIME, "x") and p.attrs["tr"] == 1.5 and "x" not in p.coords
    assert as_paradigm(np.zeros((5, 3, 4))).dims == (TIME, "y", "x")
    assert as_paradigm(np.zeros((5, 2)), stimulus_dims="orientation").dims == (TIME, "orientation")
    assert as_paradigm(np.zeros((5, 2, 3, 4)), stimulus_dims=("z", "y", "x")).dims == (
        TIME, "z", "y", "x")
    with pytest.raises(DimensionError, match="stim stimulus_dims: is None for 3 stimulus axes"):
        as_paradigm(np.zeros((5, 2, 3, 4)), argument="stim")
    with pytest.raises(DimensionError, match=r"paradigm stimulus_dims.*other than 'time'"):
        as_paradigm(np.zeros((5, 2)), stimulus_dims="time")


def test_paradigm_from_dataframe(rng):
    df = pd.DataFrame(rng.normal(size=(4, 3)), columns=pd.Index([-1.0, 0.0, 1.0], name="x"))
    p = as_paradigm(df)
    assert p.dims == (TIME, "x")
    np.testing.assert_array_equal(p.x, [-1, 0, 1])
    pd.testing.assert_frame_equal(to_pandas(p), df.rename_axis(index="time"))
    assert as_paradigm(df, stimulus_dims="pos").dims == (TIME, "pos")
    # braincoder 1-D: a column 'x' of stimulus values per frame
    assert as_paradigm(pd.Series(np.arange(4.0), name="x")).shape == (4, 1)


def test_paradigm_image_grid(rng):
    xs, ys = [-1.0, 0.0, 1.0], [2.0, 1.0]
    cols = pd.MultiIndex.from_product([xs, ys], names=["x", "y"])  # braincoder (x, y) order
    df = pd.DataFrame(rng.normal(size=(3, 6)), columns=cols)
    p = as_paradigm(df, tr=1.0)
    assert p.dims == (TIME, "y", "x") and p.shape == (3, 2, 3)
    np.testing.assert_array_equal(p.sel(x=1.0, y=2.0), df[(1.0, 2.0)])
    np.testing.assert_array_equal(p.y, ys)
    # canonical (y, x) columns round-trip exactly
    yx = df.T.swaplevel().sort_index(level=["y", "x"], ascending=[False, True]).T
    yx = yx.rename_axis(index="time")
    pd.testing.assert_frame_equal(to_pandas(as_paradigm(yx)), yx)
    assert as_paradigm(df, stimulus_dims=("x", "y")).dims == (TIME, "x", "y")
    # not a full grid: one stacked 'pixel' dim
    part = as_paradigm(df.iloc[:, :5])
    assert part.dims == (TIME, "pixel") and isinstance(part.indexes["pixel"], pd.MultiIndex)
    with pytest.raises(InputError, match=r"paradigm: has unnamed column levels.*set_names"):
        as_paradigm(df.set_axis(pd.MultiIndex.from_product([xs, ys]), axis=1))
    with pytest.raises(DimensionError, match="an ordering of the column levels"):
        as_paradigm(df, stimulus_dims=("a", "b"))


def test_paradigm_from_xarray(rng):
    da = xr.DataArray(rng.normal(size=(3, 4, 5)), dims=("x", "y", "time"))
    assert as_paradigm(da).dims == (TIME, "x", "y")
    assert as_paradigm(da, stimulus_dims=("y", "x")).dims == (TIME, "y", "x")
    assert as_paradigm(xr.DataArray(np.zeros((4, 2, 3)))).dims == (TIME, "y", "x")
    assert as_paradigm(xr.DataArray(np.zeros(4), dims="time")).dims == (TIME, "x")
    with pytest.raises(DimensionError, match=r"stim: has dims \('frame', 'x'\).*'time'"):
        as_paradigm(xr.DataArray(np.zeros((2, 2)), dims=("frame", "x")), argument="stim")
    with pytest.raises(DimensionError, match=r"has stimulus dims \('x', 'y'\)"):
        as_paradigm(da, stimulus_dims=("x", "z"))


def test_paradigm_keeps_dask_lazy(no_compute):
    arr = dsa.zeros((10, 4, 4), chunks=(10, 2, 2))
    p = as_paradigm(arr, tr=1.0)
    assert isinstance(p.data, dsa.Array) and p.dims == (TIME, "y", "x")
    q = as_paradigm(xr.DataArray(arr, dims=("time", "x", "y")), stimulus_dims=("y", "x"))
    assert isinstance(q.data, dsa.Array)


# ------------------------------------------------------------- as_parameters
def test_parameters_from_dataframe(rng):
    df = pd.DataFrame({"x": rng.normal(size=3), "sd": [1, 2, 3]},
                      index=pd.Index(["a", "b", "c"], name="source"))
    ds = as_parameters(df)
    assert list(ds.data_vars) == ["x", "sd"] and ds.sd.dtype == np.int64
    assert list(ds.voxel.values) == ["a", "b", "c"]
    pd.testing.assert_frame_equal(to_pandas(ds), df.rename_axis(index="voxel"))
    assert list(as_parameters(df, labels=["sd", "x"]).data_vars) == ["sd", "x"]
    with pytest.raises(InputError, match=r"prf: lacks parameters \['amplitude'\].*labels"):
        as_parameters(df, labels=["x", "amplitude"], argument="prf")
    with pytest.raises(InputError, match="has duplicate columns"):
        as_parameters(df.set_axis(["x", "x"], axis=1))
    mi = pd.MultiIndex.from_tuples([(0, 1), (0, 2), (1, 1)], names=["i", "j"])
    pd.testing.assert_frame_equal(to_pandas(as_parameters(df.set_axis(mi))), df.set_axis(mi))


def test_parameters_from_arrays_and_dicts(rng):
    arr = rng.normal(size=(5, 3))
    ds = as_parameters(arr, labels=["x", "sd", "baseline"], voxel=list("abcde"))
    np.testing.assert_array_equal(ds.sd, arr[:, 1])
    assert list(ds.voxel.values) == list("abcde")
    with pytest.raises(DimensionError, match=r"parameters: has shape \(5, 3\).*labels=\["):
        as_parameters(arr)
    ds = as_parameters({"x": arr[:, 0], "sd": arr[:, 1]}, labels="sd")
    assert list(ds.data_vars) == ["sd"]
    with pytest.raises(DimensionError, match=r"parameters: has arrays of shapes \{'x': \(5,\), 'sd': \(4,\)\}"):
        as_parameters({"x": arr[:, 0], "sd": arr[:4, 1]})
    ser = as_parameters({"x": pd.Series([1.0, 2.0], index=["a", "b"])})
    assert list(ser.voxel.values) == ["a", "b"]
    da = xr.DataArray(arr, dims=("voxel", "parameter"), coords={"parameter": ["x", "y", "sd"]})
    assert list(as_parameters(da).data_vars) == ["x", "y", "sd"]
    assert list(as_parameters(da.drop_vars("parameter"), labels=list("abc")).data_vars) == list("abc")


def test_parameters_from_dataset():
    ds = xr.Dataset({"x": ("voxel", [1.0, 2.0]), "r2": ("voxel", [0.1, 0.2])})
    assert as_parameters(ds) is ds
    with pytest.raises(DimensionError, match=r"fit\['bad'\]: has dims \('source',\)"):
        as_parameters(ds.assign(bad=("source", [1.0])), argument="fit")
    with pytest.raises(InputError, match="holds no parameters"):
        as_parameters(xr.Dataset())


def test_parameters_keep_dask_lazy(no_compute):
    arr = dsa.ones((10, 2), chunks=(5, 2))
    ds = as_parameters(arr, labels=["x", "sd"])
    assert isinstance(ds.x.data, dsa.Array)
    ds = as_parameters({"x": dsa.ones(10, chunks=5)})
    assert isinstance(ds.x.data, dsa.Array)


# ------------------------------------------------------------------ to_pandas
def test_to_pandas_other_shapes(rng):
    da = xr.DataArray(rng.normal(size=(4, 3)), dims=("voxel", "time"))
    df = to_pandas(da)
    assert df.index.name == "time" and df.columns.name == "voxel" and df.shape == (3, 4)
    s = to_pandas(xr.DataArray([1.0, 2.0], dims="voxel", name="r2"))
    assert isinstance(s, pd.Series) and s.index.name == "voxel" and s.name == "r2"
    with pytest.raises(InputError, match="obj: is a Dataset with variable dims"):
        to_pandas(xr.Dataset({"a": ("voxel", [1.0]), "b": (("voxel", "t"), [[1.0]])}))
    with pytest.raises(InputError, match="obj: is DataArray with no dims"):
        to_pandas(xr.DataArray(1.0))


_labels = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6)
_finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@st.composite
def _timeseries_frames(draw):
    names = draw(st.one_of(st.lists(_labels, min_size=1, max_size=5, unique=True),
                           st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=5,
                                    unique=True)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    index = hpd.indexes(elements=st.floats(-1e6, 1e6, allow_nan=False), min_size=1,
                        max_size=20, unique=True)
    df = draw(hpd.data_frames(hpd.columns(names, dtype=dtype, elements=_finite), index=index))
    df = df.sort_index()
    df.index.name, df.columns.name = "time", "voxel"
    return df


@given(_timeseries_frames())
def test_property_timeseries_round_trip(df):
    da = as_timeseries(df)
    assert da.dims == (TIME, VOXEL) and da.dtype == df.dtypes.iloc[0]
    pd.testing.assert_frame_equal(to_pandas(da), df)


@st.composite
def _parameter_frames(draw):
    names = draw(st.lists(_labels, min_size=1, max_size=5, unique=True))
    index = st.one_of(
        hpd.indexes(elements=_labels, max_size=20, unique=True),
        hpd.indexes(dtype=np.int64, elements=st.integers(-10**6, 10**6), max_size=20,
                    unique=True),
    )
    df = draw(hpd.data_frames(hpd.columns(names, dtype=float, elements=_finite), index=index))
    df.index.name = "voxel"
    return df


@given(_parameter_frames())
def test_property_parameters_round_trip(df):
    ds = as_parameters(df)
    assert list(ds.data_vars) == list(df.columns)
    pd.testing.assert_frame_equal(to_pandas(ds), df)


@given(st.integers(1, 6), st.integers(1, 5), st.floats(0.1, 3.0))
def test_property_numpy_timeseries(n_time, n_voxel, tr):
    arr = np.arange(n_time * n_voxel, dtype=float).reshape(n_time, n_voxel)
    df = to_pandas(as_timeseries(arr, tr=tr))
    np.testing.assert_array_equal(df.to_numpy(), arr)
    np.testing.assert_allclose(df.index, np.arange(n_time) * tr)


# ----------------------------------------------------------------- check_dims
def test_check_dims_messages(rng):
    raw = xr.DataArray(np.zeros((3, 2)))
    with pytest.raises(DimensionError, match=(
            r"bold: has dims \('dim_0', 'dim_1'\) with sizes \{'dim_0': 3, 'dim_1': 2\}; "
            r"expected dims \('time', 'voxel'\); fix: .*xneuro\.core\.schema\.as_timeseries\(bold\)")):
        check_dims(raw, ("time", "voxel"), "bold")
    with pytest.raises(DimensionError, match=r"stim: .*schema\.as_paradigm\(stim\)"):
        check_dims(raw, ("time", "x"), "stim")
    da = xr.DataArray(np.zeros(3), dims="time")
    with pytest.raises(DimensionError, match=r"expand_dims\('voxel'\)"):
        check_dims(da, ("time", "voxel"), "bold")
    da = xr.DataArray(np.zeros((3, 2, 2)), dims=("time", "voxel", "run"))
    with pytest.raises(DimensionError, match=r"has dims \('time', 'voxel', 'run'\).*isel\(run=0\)"):
        check_dims(da, ("time", "voxel"), "bold")
    assert check_dims(da, ("voxel", "time"), "bold", allow_extra=True) is da
    with pytest.raises(DimensionError, match=r"bold: has dims in the order .*transpose\('voxel', 'time', \.\.\.\)"):
        check_dims(da, ("voxel", "time"), "bold", allow_extra=True, ordered=True)
    check_dims(da, ("time", "voxel"), "bold", allow_extra=True, ordered=True)
    with pytest.raises(InputError, match="bold: is a ndarray"):
        check_dims(np.zeros(3), ("time",), "bold")  # type: ignore[arg-type]


def test_check_core_dim_unchunked(no_compute):
    da = xr.DataArray(dsa.zeros((10, 4), chunks=(5, 2)), dims=("time", "voxel"))
    with pytest.raises(DimensionError, match=(
            r"bold: is split into 2 chunks along the core dim 'time' \(chunk sizes \(5, 5\)\)"
            r".*fix: bold = bold\.chunk\(\{'time': -1\}\)")):
        check_core_dim_unchunked(da, "time", "bold")
    ok = da.chunk({"time": -1})
    assert check_core_dim_unchunked(ok, "time", "bold") is ok
    with pytest.raises(DimensionError, match=r"fit\['x'\]: is split"):
        check_core_dim_unchunked(da.to_dataset(name="x"), "time", "fit")
    with pytest.raises(DimensionError, match=r"bold: has dims \('time', 'voxel'\)"):
        check_core_dim_unchunked(da, "frame", "bold")


def test_check_core_dim_numpy_passes():
    da = xr.DataArray(np.zeros((10, 4)), dims=("time", "voxel"))
    assert check_core_dim_unchunked(da, "time", "bold") is da


# ------------------------------------------------------------- check_finite
def test_check_finite(rng):
    bold = _bold(rng)
    assert check_finite(bold, "bold") is bold
    bad = bold.copy()
    bad[0, 1] = np.nan
    bad[2, 1] = np.nan
    bad[3, 3] = np.inf
    with pytest.raises(InputError, match=(
            r"bold: contains 2 NaN and 1 infinite values in 2 of 4 voxel labels "
            r"\(first: 'v1', 'v3'\).*fix: drop them.*sel\(voxel=ok\)")):
        check_finite(bad, "bold")
    with pytest.raises(InputError, match=r"first at \{'time': 0, 'voxel': 1\}"):
        check_finite(bad, "bold", dim=None)
    with pytest.raises(InputError, match=r"fit\['x'\]: contains 1 NaN"):
        check_finite(xr.Dataset({"x": ("voxel", [1.0, np.nan]), "n": ("voxel", [1, 2])}), "fit")
    assert check_finite(xr.DataArray([1, 2]), "counts") is not None


def test_check_finite_dask(rng, no_compute):
    lazy = _bold(rng).chunk({"voxel": 2})
    assert check_finite(lazy, "bold", compute=False) is lazy


def test_check_finite_dask_computes(rng):
    lazy = _bold(rng).chunk({"voxel": 2})
    lazy = lazy.where(lazy.voxel != "v2")
    with pytest.raises(InputError, match=r"6 NaN and 0 infinite values in 1 of 4 voxel labels"):
        check_finite(lazy, "bold")


# ---------------------------------------------------------- check_nonconstant
def test_check_nonconstant(rng):
    bold = _bold(rng)
    assert check_nonconstant(bold, argument="bold") is bold
    flat = bold.copy()
    flat[:, 2] = 5.0
    with pytest.raises(InputError, match=(
            r"bold: has 1 of 4 series constant along 'time' \(voxel labels 'v2'\).*"
            r"fix: mask them out.*bold\.sel\(voxel=~constant\)")):
        check_nonconstant(flat, argument="bold")
    constant = check_nonconstant(flat, return_mask=True)
    assert constant.dims == ("voxel",) and constant.values.tolist() == [0, 0, 1, 0]
    assert flat.sel(voxel=~constant).sizes["voxel"] == 3
    with pytest.raises(DimensionError, match="has dims"):
        check_nonconstant(flat, dim="frame")


def test_check_nonconstant_mask_lazy(rng, no_compute):
    mask = check_nonconstant(_bold(rng).chunk({"voxel": 2}), return_mask=True)
    assert isinstance(mask.data, dsa.Array)


# -------------------------------------------------------------- check_aligned
def test_check_aligned(rng):
    bold = _bold(rng, n_time=6, tr=2.0)
    stim = as_paradigm(rng.normal(size=(6, 3)), tr=2.0)
    check_aligned(bold, stim)
    check_aligned(bold, stim.drop_vars("time"))
    with pytest.raises(DimensionError, match=(
            r"data, paradigm: data has 6 'time' points and paradigm has 5.*isel\(time=slice\(0, 5\)\)")):
        check_aligned(bold, stim.isel(time=slice(0, 5)))
    with pytest.raises(InputError, match=(
            r"bold, stim: 'time' coordinates differ in 6 places \(first at position 0: bold 0\.0, "
            r"stim 1\.0\).*assign_coords")):
        check_aligned(bold, stim.assign_coords(time=stim.time + 1.0), names=("bold", "stim"))
    with pytest.raises(DimensionError, match=r"paradigm: has dims \('x',\)"):
        check_aligned(bold, xr.DataArray([1.0], dims="x"))
