"""fit_parameters on labeled data: dask == in memory, laziness, distributed, resumable store,
the accessor twin, pandas/xarray in and out, and the ``xneuro fit`` command."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from test_fit_support import N_TIME, prf_1d

import xneuro
from xneuro.cli import main
from xneuro.core.errors import InputError
from xneuro.encoding import ParameterFitter, fit_parameters
from xneuro.encoding.fit import _run

LABELS = ["mu", "sd", "amplitude", "baseline"]


@pytest.fixture(scope="module")
def problem():
    model, data, truth, _ = prf_1d(noise=0.5, seed=11)
    bold = xr.DataArray(data, dims=("time", "voxel"), name="bold",
                        coords={"time": np.arange(N_TIME) * 1.5,
                                "voxel": [f"v{i}" for i in range(data.shape[1])]},
                        attrs={"tr": 1.5})
    paradigm = xr.DataArray(model.paradigm_array()[:, :1], dims=("time", "x"),
                            coords={"time": bold["time"]}, name="paradigm")
    start = truth.assign(mu=truth["mu"] + 0.3).set_axis(bold["voxel"].values)
    return model, bold, paradigm, start


@pytest.fixture(scope="module")
def in_memory(problem):
    model, bold, paradigm, start = problem
    return fit_parameters(bold, model, paradigm, init_pars=start, max_n_iterations=200)


def test_dask_path_equals_in_memory_and_stays_lazy(problem, in_memory, no_compute):
    model, bold, paradigm, start = problem
    lazy = fit_parameters(bold.chunk({"voxel": 8}), model, paradigm, init_pars=start,
                          max_n_iterations=200)
    assert all(v.chunks is not None for v in lazy.data_vars.values())
    assert lazy["mu"].chunks == ((8, 8, 8),)
    with dask.config.set(scheduler="threads"):
        computed = lazy.compute()
    xr.testing.assert_allclose(computed.drop_attrs(), in_memory.drop_attrs(), rtol=1e-5)
    assert list(computed["voxel"].values) == list(bold["voxel"].values)


def test_grid_on_dask_equals_grid_in_memory(problem):
    model, bold, paradigm, _ = problem
    grid = {"mu": np.linspace(0, 20, 30), "sd": np.linspace(0.5, 5, 20)}
    eager = fit_parameters(bold, model, paradigm, grid=grid, max_n_iterations=0)
    lazy = fit_parameters(bold.chunk({"voxel": 16}), model, paradigm, grid=grid,
                          max_n_iterations=0)
    xr.testing.assert_allclose(lazy.compute().drop_attrs(), eager.drop_attrs(), rtol=1e-6)
    assert float(eager["r2"].mean()) > 0.3


def test_distributed_store_equals_in_memory(problem, in_memory, cluster_client, tmp_path):
    model, bold, paradigm, start = problem
    with dask.config.set(scheduler=cluster_client):
        stored = fit_parameters(bold.chunk({"voxel": 8}), model, paradigm, init_pars=start,
                                max_n_iterations=200, store=tmp_path / "prf.zarr")
    assert stored.attrs["xneuro_job_status"] == "complete"
    xr.testing.assert_allclose(stored.compute()[in_memory.data_vars.keys()].drop_attrs(),
                               in_memory.drop_attrs(), rtol=1e-5)


def test_store_resumes_after_an_interruption(problem, in_memory, tmp_path, monkeypatch):
    model, bold, paradigm, start = problem
    calls, crash = [], [True]
    original = _run.fit_block

    def crash_on_second_unit(plan, Y, *args, name="", **kwargs):
        calls.append(name)
        if name == "voxels_0000008-0000016" and crash[0]:
            raise RuntimeError("killed")
        return original(plan, Y, *args, name=name, **kwargs)

    monkeypatch.setattr(_run, "fit_block", crash_on_second_unit)
    store = tmp_path / "prf.zarr"
    kwargs = {"init_pars": start, "max_n_iterations": 200, "store": store, "unit_size": 8}
    with pytest.raises(RuntimeError, match="killed"):
        fit_parameters(bold, model, paradigm, **kwargs)
    assert sorted(calls) == ["voxels_0000000-0000008", "voxels_0000008-0000016",
                             "voxels_0000016-0000024"]
    with pytest.warns(UserWarning, match="not all done"):
        partial = xneuro.open(store)
    assert np.isnan(partial["mu"].values[8:16]).all() and np.isfinite(partial["mu"][:8]).all()
    calls.clear()
    crash[0] = False
    resumed = fit_parameters(bold, model, paradigm, **kwargs)
    assert calls == ["voxels_0000008-0000016"]  # only the unit that was lost
    xr.testing.assert_allclose(resumed.compute()[list(in_memory.data_vars)].drop_attrs(),
                               in_memory.drop_attrs(), rtol=1e-5)


@pytest.mark.parametrize("kwargs", [{"max_n_iterations": 0},
                                    {"max_n_iterations": 30, "noise_model": "gaussian"}])
def test_accessor_agrees_with_function(problem, kwargs):
    model, bold, paradigm, start = problem
    via_accessor = bold.encode.fit(model, paradigm, init_pars=start, **kwargs)
    via_function = fit_parameters(bold, model, paradigm, init_pars=start, **kwargs)
    xr.testing.assert_identical(via_accessor.drop_attrs(), via_function.drop_attrs())
    assert via_accessor.attrs["xneuro_function"] == "xneuro.encoding.fit_parameters"


def test_pandas_in_pandas_out_and_xarray_in_xarray_out(problem, in_memory):
    model, bold, paradigm, start = problem
    frame = bold.xneuro.to_pandas()
    fitter = ParameterFitter(model, frame)
    out = fitter.fit(init_pars=start, max_n_iterations=200, progressbar=False)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == LABELS
    assert list(out.index) == list(frame.columns)
    np.testing.assert_allclose(out.to_numpy(), in_memory.to_pandas()[LABELS].to_numpy(),
                               rtol=1e-5)
    assert isinstance(fitter.r2, pd.Series)
    labeled = ParameterFitter(model, bold, paradigm).fit(init_pars=start, max_n_iterations=200,
                                                         progressbar=False)
    assert isinstance(labeled, xr.Dataset) and "r2" in labeled
    # braincoder's layout from the Dataset, and a former fit as init_pars
    table = in_memory.xneuro.to_pandas()
    assert list(table.columns) == [*LABELS, "r2"] and table.index.name == "voxel"
    again = fit_parameters(bold, model, paradigm, init_pars=in_memory, max_n_iterations=0)
    np.testing.assert_allclose(again["r2"], in_memory["r2"], rtol=1e-4)


def test_intermediate_parameters_in_the_dataset(problem):
    model, bold, paradigm, start = problem
    ds = fit_parameters(bold, model, paradigm, init_pars=start, max_n_iterations=60,
                        store_intermediate_parameters=True)
    assert ds["mu_history"].dims == ("iteration", "voxel")
    assert ds.sizes["iteration"] == 60
    np.testing.assert_allclose(ds["r2_history"].max("iteration"), ds["r2"], atol=1e-5)


def test_bad_arguments(problem):
    model, bold, paradigm, start = problem
    with pytest.raises(InputError, match="model"):
        fit_parameters(bold, "gaussian", paradigm)
    with pytest.raises(InputError, match="grid, init_pars"):
        fit_parameters(bold, model, paradigm, grid={"mu": [1.0]}, init_pars=start)
    with pytest.raises(InputError, match="unit_size"):
        fit_parameters(bold, model, paradigm, init_pars=start, unit_size=0)
    with pytest.raises(InputError, match=r"init_pars.*voxels"):
        fit_parameters(bold, model, paradigm, init_pars=start.iloc[:5])
    with pytest.raises(InputError, match="confounds"):
        fit_parameters(bold, model, paradigm, init_pars=start, confounds=np.ones((3, 1)))
    with pytest.raises(TypeError):
        fit_parameters(bold, model, paradigm, correlation_cost=True)


def test_cli_fit(problem, tmp_path, capsys):
    _, bold, paradigm, _ = problem
    xneuro.save(bold, tmp_path / "bold.zarr")
    xneuro.save(paradigm, tmp_path / "stim.zarr")
    argv = ["fit", "--model", "gaussian_prf", "--hrf", "none", "--data",
            str(tmp_path / "bold.zarr"), "--paradigm", str(tmp_path / "stim.zarr"), "--out",
            str(tmp_path / "prf.zarr"), "--max-iterations", "0", "--unit-size", "12",
            "--no-progress"]
    assert main(argv) == 0
    assert "fitted 24 voxels with GaussianPRF" in capsys.readouterr().out
    result = xneuro.open(tmp_path / "prf.zarr")
    assert set(LABELS) < set(result.data_vars)
    assert zarr.open_group(tmp_path / "prf.zarr")["mu"].chunks == (12,)  # one unit per chunk
    assert main(argv) == 0  # again: every unit is done, nothing is recomputed
    bad = ["fit", "--model", "gaussian_prf", "--data", str(tmp_path / "missing.zarr"),
           "--paradigm", str(tmp_path / "stim.zarr"), "--out", str(tmp_path / "x.zarr")]
    assert main(bad) == 2
    assert "--data: " in capsys.readouterr().err
