"""Sweeps: equal to the per-point runs, the dask and store paths equal the in-memory one."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

pytest.importorskip("jax")

from xneuro import mass
from xneuro.mass import sweep as sweep_module

KW = {"duration": 0.03, "dt": 1e-4, "sample_every": 1e-3, "delays": True, "speed": 5.0}
SWEEP = {"k": [0.0, 0.3, 0.6, 0.9, 1.2], "a": [-0.05, 0.1]}


@pytest.fixture(scope="module")
def conn():
    rng = np.random.default_rng(1)
    n = 5
    W = rng.uniform(0, 1, (n, n))
    np.fill_diagonal(W, 0)
    names = [f"r{i}" for i in range(n)]
    return xr.Dataset(
        {"weights": (("region", "region_"), W),
         "lengths": (("region", "region_"), rng.uniform(5, 40, (n, n)))},
        coords={"region": names, "region_": names},
    )


@pytest.fixture(scope="module")
def reference(conn):
    return mass.simulate(conn, mass.Hopf(omega=0.1), sweep=SWEEP, points_per_chunk=4, **KW)


def test_sweep_equals_per_point_simulations(conn, reference):
    assert reference.x.dims == ("time", "region", "k", "a")
    for k in (0.0, 0.9):
        for a in SWEEP["a"]:
            single = mass.simulate(conn, mass.Hopf(omega=0.1, a=a),
                                   coupling=mass.Diffusive(k=k), **KW)
            np.testing.assert_allclose(reference.x.sel(k=k, a=a), single.x, rtol=1e-5,
                                       atol=1e-7)


def test_chunking_does_not_change_noisy_results(conn):
    kw = dict(KW, noise=mass.OUNoise(sigma=0.1), sweep=SWEEP, seed=2)
    a = mass.simulate(conn, mass.Hopf(omega=0.1), points_per_chunk=2, **kw)  # 5 programs of 2
    b = mass.simulate(conn, mass.Hopf(omega=0.1), points_per_chunk=10, **kw)  # one of 10
    np.testing.assert_allclose(a.x, b.x, rtol=1e-5, atol=1e-7)


def test_lazy_path_is_lazy_and_equals_in_memory(conn, reference, no_compute):
    lazy = mass.simulate(conn, mass.Hopf(omega=0.1), sweep=SWEEP, points_per_chunk=4, lazy=True,
                         **KW)
    assert lazy.x.chunks[2] == (2, 2, 1)  # k is the unit dim: 2 k-values x 2 a-values per task
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(lazy.x.values, reference.x.values)


def test_store_on_a_distributed_cluster_equals_in_memory(conn, reference, tmp_path,
                                                        cluster_client):
    with dask.config.set(scheduler=cluster_client):
        stored = mass.simulate(conn, mass.Hopf(omega=0.1), sweep=SWEEP, points_per_chunk=4,
                               store=tmp_path / "sweep.zarr", **KW)
    np.testing.assert_array_equal(stored.x.values, reference.x.values)
    np.testing.assert_array_equal(stored.k.values, SWEEP["k"])
    assert stored.attrs["xneuro_job_status"] == "complete"


def test_interrupted_sweep_resumes(conn, reference, tmp_path, monkeypatch):
    path = tmp_path / "sweep.zarr"
    original = sweep_module.Setup.compute
    calls = []

    def flaky(self, unit_dim=None, region=None):
        calls.append(region.start)
        if region.start == 2:
            raise RuntimeError("worker lost")
        return original(self, unit_dim, region)

    monkeypatch.setattr(sweep_module.Setup, "compute", flaky)
    with pytest.raises(RuntimeError, match="worker lost"):
        mass.simulate(conn, mass.Hopf(omega=0.1), sweep=SWEEP, points_per_chunk=4, store=path,
                      **KW)
    assert sorted(calls) == [0, 2, 4]
    monkeypatch.setattr(sweep_module.Setup, "compute",
                        lambda self, u=None, r=None: calls.append(r.start) or original(self, u, r))
    calls.clear()
    resumed = mass.simulate(conn, mass.Hopf(omega=0.1), sweep=SWEEP, points_per_chunk=4,
                            store=path, **KW)
    assert calls == [2]  # only the unit that failed is computed again
    np.testing.assert_array_equal(resumed.x.values, reference.x.values)
    assert resumed.attrs["xneuro_job_status"] == "complete"


def test_single_run_into_a_store(conn, tmp_path):
    stored = mass.simulate(conn, mass.Hopf(), store=tmp_path / "one.zarr", **KW)
    direct = mass.simulate(conn, mass.Hopf(), **KW)
    assert stored.x.dims == ("time", "region")
    np.testing.assert_array_equal(stored.x.values, direct.x.values)
