"""Result rows through JSON, and the harness's additions used by the runner."""

from __future__ import annotations

import argparse
import json
import math
import os

from xneuro.bench.harness import (
    PeakMemory,
    Result,
    add_arguments,
    dask_client,
    finish,
    measure,
    read_results,
    select_jax_platform,
)


def test_result_json_round_trip_with_nan():
    row = Result(benchmark="fit", case="1-D", size="1000 vox", who="xneuro",
                 seconds=float("nan"), throughput=None, hw_fraction=0.25, workers=2,
                 note="failed: boom")
    data = json.loads(json.dumps(row.to_dict()))
    assert data["seconds"] is None          # NaN is not valid JSON: written as null
    back = Result.from_dict({**data, "unknown_key": 1})
    assert math.isnan(back.seconds)
    assert back.hw_fraction == 0.25 and back.workers == 2 and back.note == "failed: boom"
    assert back.throughput is None


def test_finish_writes_what_read_results_reads(tmp_path, capsys):
    rows = [Result("b", "c", "1k", "xneuro", 2.0), Result("b", "c", "1k", "numpy", float("nan"))]
    args = add_arguments(argparse.ArgumentParser()).parse_args(
        ["--size", "small", "--json", str(tmp_path / "rows.json")])
    assert finish(rows, args, "title") == 0
    assert "title" in capsys.readouterr().out
    header, back = read_results(tmp_path / "rows.json")
    assert header["size"] == "small" and "machine" in header and "versions" in header
    assert back[0] == rows[0] and math.isnan(back[1].seconds)


def test_measure_with_children_and_peak_memory():
    timing = measure(lambda: sum(range(1000)), repeat=2, children=True)
    assert timing.repeats == 2 and timing.seconds >= 0 and timing.peak_host_mb >= 0
    with PeakMemory(children=True) as memory:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
    assert memory.megabytes >= 0


def test_dask_client_without_cluster_is_in_process():
    args = add_arguments(argparse.ArgumentParser()).parse_args([])
    with dask_client(args) as (client, workers):
        assert client is None and workers == 0


def test_select_jax_platform_leaves_an_imported_jax_alone(monkeypatch):
    import jax  # noqa: F401  (imported: nothing may change)

    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    select_jax_platform("cpu")
    assert "JAX_PLATFORMS" not in os.environ


def test_dask_client_connects_to_a_scheduler(cluster_client):
    import dask

    before = dask.config.get("scheduler", None)
    args = add_arguments(argparse.ArgumentParser()).parse_args(
        ["--scheduler", cluster_client.scheduler.address])
    with dask_client(args) as (client, workers):
        assert workers == 2
        assert client.submit(lambda x: x + 1, 1).result() == 2
    assert client.status == "closed"
    assert dask.config.get("scheduler", None) == before
