"""Shared fixtures: a small LocalCluster, seeded data, and a compute counter."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "xneuro", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("xneuro")


@pytest.fixture(scope="session")
def cluster_client():
    """A distributed Client on 2 in-process workers with 1 thread each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def rng():
    return np.random.default_rng(0)


class CountingScheduler:
    """A dask scheduler that counts how often it is asked to compute."""

    def __init__(self, max_computes: int = 0) -> None:
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(
                f"Too many dask computations were scheduled: {self.total_computes}"
            )
        return dask.get(dsk, keys, **kwargs)


@pytest.fixture
def no_compute():
    """Inside this fixture any dask compute raises."""
    with dask.config.set(scheduler=CountingScheduler(0)):
        yield
