"""Balloon-Windkessel BOLD, FC, FCD and their similarities."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

pytest.importorskip("jax")

from xneuro import mass
from xneuro.core.errors import InputError


def activity(values, dt=1e-3, extra=None):
    values = values if isinstance(values, dsa.Array) else np.asarray(values, dtype=np.float64)
    dims = ("time", "region") + (() if extra is None else (extra,))
    return xr.DataArray(values, dims=dims,
                        coords={"time": np.arange(1, values.shape[0] + 1) * dt})


def test_resting_bold_is_exactly_zero():
    out = mass.bold(activity(np.zeros((2000, 3))), tr=0.5)
    assert out.dims == ("time", "region") and out.sizes["time"] == 4
    np.testing.assert_array_equal(out.values, 0.0)


def test_bold_response_to_a_brief_input_peaks_after_seconds():
    z = np.zeros((20000, 1))
    z[:1000] = 0.1  # 1 s of activity
    out = mass.bold(activity(z), tr=0.1)
    trace = out.values[:, 0]
    peak = float(out.time[np.argmax(trace)])
    assert 3.0 < peak < 7.0
    assert trace.max() > 1e-3 and trace[-1] < trace.max() / 5  # a positive, transient response
    # linearity for small inputs: half the input, about half the response
    half = mass.bold(activity(z / 2), tr=0.1).values[:, 0]
    assert half.max() == pytest.approx(trace.max() / 2, rel=0.05)


def test_bold_keeps_dask_lazy_and_labels_sweep_dims(no_compute):
    z = dsa.zeros((3000, 4, 3), chunks=(3000, 4, 1))
    out = mass.bold(activity(z, extra="k"), tr=0.3)
    assert isinstance(out.data, dsa.Array)
    assert out.dims == ("time", "region", "k") and out.sizes["time"] == 10
    assert out.attrs["tr"] == 0.3  # not 0.30000000000000004 from 3000 steps of 1e-4


def test_bold_of_a_simulation_uses_the_model_observable():
    sim = mass.simulate(np.zeros((2, 2)), mass.JansenRit(), duration=0.2, dt=1e-4,
                        sample_every=1e-3)
    auto = mass.bold(sim, tr=0.1, scale=0.01)
    manual = mass.bold(sim.E - sim.I, tr=0.1, scale=0.01)
    np.testing.assert_allclose(auto.values, manual.values)


def test_bold_bad_input():
    with pytest.raises(InputError, match="not a multiple of the sampling interval"):
        mass.bold(activity(np.zeros((100, 2))), tr=0.0025)
    with pytest.raises(InputError, match="unknown names"):
        mass.bold(activity(np.zeros((100, 2))), tr=0.01, tau_x=1.0)


def test_fc_matches_numpy_and_keeps_labels(rng):
    x = rng.normal(size=(200, 5, 2))
    ts = activity(x, extra="k").assign_coords(region=list("abcde"))
    out = mass.fc(ts)
    assert out.dims == ("region", "region_", "k")
    np.testing.assert_allclose(out.isel(k=1).values, np.corrcoef(x[:, :, 1].T), atol=1e-12)
    assert list(out.region_.values) == list("abcde")


def test_fc_similarity_and_fcd(rng):
    x = rng.normal(size=(300, 6)).cumsum(0)
    ts = activity(x)
    emp = mass.fc(ts)
    assert float(mass.fc_similarity(ts, emp)) == pytest.approx(1.0)
    assert float(mass.fc_similarity(emp, -emp.values)) == pytest.approx(-1.0)
    d = mass.fcd(ts, window=30, step=10)
    assert d.dims == ("window", "window_") and d.sizes["window"] == 28
    np.testing.assert_allclose(np.diag(d.values), 1.0)
    assert float(mass.fcd_ks(ts, ts, window=30, step=10)) == pytest.approx(0.0)
    other = activity(rng.normal(size=(300, 6)))
    assert float(mass.fcd_ks(other, ts, window=30, step=10)) > 0.05
    with pytest.raises(InputError, match=r"empirical: has shape \(3, 3\)"):
        mass.fc_similarity(ts, np.eye(3))
    with pytest.raises(InputError, match="window"):
        mass.fcd(ts, window=1000)
