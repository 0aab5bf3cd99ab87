import os
import threading

import dask
import numpy as np
import pytest
import xarray as xr

import xneuro
from xneuro.core import parallel
from xneuro.core.errors import DimensionError, InputError


def _demean(block):
    return block - block.mean(axis=-1, keepdims=True)


def _bold(rng, chunks=None):
    da = xr.DataArray(
        rng.normal(size=(30, 40)), dims=("time", "voxel"), coords={"voxel": np.arange(40)}
    )
    return da.chunk(chunks) if chunks else da


def test_map_units_matches_numpy_and_stays_lazy(rng, no_compute):
    bold = _bold(rng, {"voxel": 10})
    out = parallel.map_units(_demean, bold, core_dims=[["time"]], output_core_dims=[["time"]])
    assert out.chunks is not None
    assert out.chunksizes["voxel"] == (10, 10, 10, 10)


def test_map_units_values(rng):
    bold = _bold(rng, {"voxel": 10})
    out = parallel.map_units(_demean, bold, core_dims=[["time"]], output_core_dims=[["time"]])
    expected = bold.load() - bold.mean("time")
    xr.testing.assert_allclose(out.compute().transpose(*expected.dims), expected)


def test_map_units_new_output_dim(rng):
    bold = _bold(rng, {"voxel": 20})
    out = parallel.map_units(
        lambda b: np.stack([b.mean(-1), b.std(-1)], axis=-1),
        bold,
        core_dims=[["time"]],
        output_core_dims=[["stat"]],
        output_sizes={"stat": 2},
    )
    np.testing.assert_allclose(out.sel(voxel=3).values, [bold[:, 3].mean(), bold[:, 3].std()])


def test_map_units_rejects_chunked_core_dim(rng):
    bold = _bold(rng, {"time": 10, "voxel": 20})
    with pytest.raises(DimensionError, match=r"core dimension 'time' is split.*\.chunk\(\{'time': -1\}\)"):
        parallel.map_units(_demean, bold, core_dims=[["time"]], output_core_dims=[["time"]])


def test_map_units_rejects_missing_core_dim(rng):
    with pytest.raises(DimensionError, match=r"missing \['frame'\]"):
        parallel.map_units(_demean, _bold(rng), core_dims=[["frame"]])
    with pytest.raises(InputError, match="core_dims: has 2 entries for 1 inputs"):
        parallel.map_units(_demean, _bold(rng), core_dims=[["time"], ["time"]])


def test_map_units_on_cluster(rng, cluster_client):
    bold = _bold(rng, {"voxel": 10})
    out = parallel.map_units(_demean, bold, core_dims=[["time"]], output_core_dims=[["time"]])
    result = cluster_client.compute(out).result()
    xr.testing.assert_allclose(result.transpose("time", "voxel"), bold.load() - bold.mean("time"))


_LOADS: list[int] = []


def _load_model(path):
    _LOADS.append(threading.get_ident())
    return {"path": path, "pid": os.getpid()}


def test_worker_cache_loads_once_across_threads():
    parallel.clear_worker_cache()
    _LOADS.clear()

    @dask.delayed
    def task(i):
        return parallel.worker_cache(("model", "w.pt"), _load_model, "w.pt")["path"]

    results = dask.compute(*[task(i) for i in range(16)], scheduler="threads", num_workers=4)
    assert set(results) == {"w.pt"}
    assert len(_LOADS) == 1
    assert ("model", "w.pt") in parallel.worker_cache_keys()
    parallel.clear_worker_cache(("model", "w.pt"))
    assert ("model", "w.pt") not in parallel.worker_cache_keys()


def _pid_of_model(_):
    model = parallel.worker_cache("heavy", _load_model, "weights")
    return model["pid"], os.getpid(), len(_LOADS)


def test_worker_cache_once_per_worker_process():
    with xneuro.cluster(n_workers=2, threads_per_worker=2, processes=True) as client:
        results = client.gather(client.map(_pid_of_model, range(20), pure=False))
    for model_pid, task_pid, loads in results:
        assert model_pid == task_pid  # loaded in the worker, not shipped
        assert loads == 1  # each worker process loaded it once
    assert len({pid for pid, _, _ in results}) <= 2


def test_worker_cache_rejects_unhashable_key():
    with pytest.raises(InputError, match="key: is not hashable"):
        parallel.worker_cache(["list"], _load_model, "x")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_workers": 0}, "n_workers: got 0"),
        ({"threads_per_worker": 1.5}, "threads_per_worker: got 1.5"),
        ({"processes": "yes"}, "processes: got 'yes'"),
        ({"resources": {"GPU": -1}}, "resources: got"),
    ],
)
def test_cluster_validates_before_starting(kwargs, match):
    with pytest.raises(InputError, match=match):
        xneuro.cluster(**kwargs)


def test_cluster_context_manager_in_process():
    with xneuro.cluster(n_workers=1, threads_per_worker=1, processes=False) as client:
        assert client.submit(lambda x: x + 1, 1).result() == 2
        assert len(client.scheduler_info()["workers"]) == 1
    assert client.status == "closed"


def test_worker_cache_drops_least_recently_used():
    from xneuro import set_options

    parallel.clear_worker_cache()
    loads = []

    def load(name):
        loads.append(name)
        return name

    with set_options(worker_cache_entries=2):
        parallel.worker_cache("a", load, "a")
        parallel.worker_cache("b", load, "b")
        parallel.worker_cache("a", load, "a")  # a is now the most recent
        parallel.worker_cache("c", load, "c")  # drops b
        assert parallel.worker_cache_keys() == ["a", "c"]
        parallel.worker_cache("b", load, "b")  # loaded again, drops a
    assert loads == ["a", "b", "c", "b"]
    assert parallel.worker_cache_keys() == ["c", "b"]
    parallel.clear_worker_cache()
