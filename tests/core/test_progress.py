import numpy as np
import xarray as xr

from xneuro.core import progress


def _lazy():
    return xr.DataArray(np.arange(100.0), dims="voxel").chunk(25) * 2


def test_compute_without_progress():
    np.testing.assert_array_equal(progress.compute(_lazy(), progress=False).values, np.arange(100.0) * 2)


def test_compute_local_bar(capsys):
    out = progress.compute(_lazy(), progress=True, desc="doubling")
    np.testing.assert_array_equal(out.values, np.arange(100.0) * 2)
    assert "doubling" in capsys.readouterr().err


def test_compute_on_distributed_client(cluster_client):
    cluster_client.as_current()
    with cluster_client.as_current():
        assert progress.current_client() is cluster_client
        out = progress.compute(_lazy(), progress=True)
    np.testing.assert_array_equal(out.values, np.arange(100.0) * 2)


def test_current_client_follows_dask_config(cluster_client):
    import dask

    assert progress.current_client() is None
    with dask.config.set(scheduler=cluster_client):
        assert progress.current_client() is cluster_client
    with cluster_client.as_current(), dask.config.set(scheduler="threads"):
        assert progress.current_client() is None  # an explicit local scheduler wins


def test_progress_bar_disabled_by_default():
    bar = progress.progress_bar(range(3))
    assert bar.disable
    assert list(bar) == [0, 1, 2]
