"""Resumable jobs: uninterrupted runs, resumes after errors and killed workers, settings."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError, InputError, JobSettingsError
from xneuro.core.jobs import JOB_SUFFIX, ResumableJob, run_resumable
from xneuro.core.provenance import PROVENANCE_KEYS, fingerprint
from xneuro.core.store import save

N_VOXEL = 22
UNIT_SIZE = 5  # 5 units: 4 of 5 voxels and one of 2
FEATURES = ["a", "b", "c"]


def make_template() -> xr.Dataset:
    """Final shape of the result: per-voxel r2 and weights, plus a static variable."""
    voxel = np.arange(N_VOXEL) * 10
    return xr.Dataset(
        {
            "r2": ("voxel", np.zeros(N_VOXEL)),
            "weight": (("feature", "voxel"), np.zeros((len(FEATURES), N_VOXEL), "float32")),
            "scale": ("feature", np.array([1.0, 2.0, 3.0])),
        },
        coords={
            "voxel": voxel,
            "roi": ("voxel", np.where(voxel < 100, "V1", "V2")),
            "feature": FEATURES,
            "subject": "01",
        },
        attrs={"description": "a toy fit"},
    )


def direct(template: xr.Dataset, region: slice = slice(None)) -> xr.Dataset:
    """The result computed in one go (or over one region)."""
    voxel = template["voxel"].isel(voxel=region)
    r2 = np.sin(voxel.values / 7.0) ** 2
    weight = np.outer(voxel.values, [1.0, -2.0, 0.5]).astype("float32")
    return xr.Dataset(
        {"r2": ("voxel", r2), "weight": (("voxel", "feature"), weight)},
        coords={"voxel": voxel.values},
    )


def compute_unit(
    index: int,
    region: slice,
    *,
    calls: str,
    fail_unit: int | None = None,
    flag: str | None = None,
    kill: bool = False,
) -> xr.Dataset:
    """One unit; fails (or kills its process) for ``fail_unit`` while ``flag`` exists.

    Each successful computation appends a line to ``calls/<index>``, so tests can
    count computations across threads and processes.
    """
    if index == fail_unit and flag is not None and os.path.exists(flag):
        if kill:
            os._exit(1)
        raise RuntimeError(f"unit {index} failed on purpose")
    block = direct(make_template(), region)
    os.makedirs(calls, exist_ok=True)
    with open(os.path.join(calls, str(index)), "a") as file:
        file.write("1\n")
    return block


def never_called(index: int, region: slice) -> xr.Dataset:
    raise AssertionError(f"unit {index} should not be computed")


def call_counts(calls: Path) -> dict[int, int]:
    if not calls.exists():
        return {}
    return {int(p.name): len(p.read_text().splitlines()) for p in calls.iterdir()}


def without_created(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy(deep=False)
    out.attrs = {k: v for k, v in ds.attrs.items() if k != "xneuro_created"}
    return out


@pytest.fixture
def reference(tmp_path_factory) -> xr.Dataset:
    """An uninterrupted run, loaded."""
    path = tmp_path_factory.mktemp("reference") / "fit.zarr"
    calls = str(path.parent / "calls")
    result = run_resumable(
        path,
        make_template(),
        functools.partial(compute_unit, calls=calls),
        settings={"alpha": 1.0},
        unit_size=UNIT_SIZE,
    )
    return result.load()


def test_uninterrupted_run_equals_direct_computation(tmp_path):
    template = make_template()
    calls = tmp_path / "calls"
    job = ResumableJob(
        tmp_path / "fit.zarr", template, settings={"alpha": 1.0}, unit_size=UNIT_SIZE
    )
    assert job.unit_dim == "voxel"
    assert job.units == [slice(0, 5), slice(5, 10), slice(10, 15), slice(15, 20), slice(20, 22)]
    assert job.pending() == [0, 1, 2, 3, 4]
    assert job.done() == set()
    assert not job.is_complete()

    result = job.run(functools.partial(compute_unit, calls=str(calls)))

    assert job.is_complete()
    assert job.pending() == []
    assert result.r2.chunks == ((5, 5, 5, 5, 2),)
    assert result.weight.chunks == ((3,), (5, 5, 5, 5, 2))
    assert result.chunks is not None  # lazy
    expected = direct(template).transpose("feature", "voxel").assign_coords(feature=FEATURES)
    xr.testing.assert_equal(result[["r2", "weight"]].drop_vars(["roi", "subject"]), expected)
    xr.testing.assert_identical(result["scale"], template["scale"])
    xr.testing.assert_identical(
        xr.Dataset(coords=result.coords), xr.Dataset(coords=template.coords)
    )
    assert result.attrs["description"] == "a toy fit"
    assert all(key in result.attrs for key in PROVENANCE_KEYS)
    assert result.attrs["xneuro_fingerprint"] == job.fingerprint
    assert result.attrs["xneuro_job_status"] == "complete"
    assert call_counts(calls) == dict.fromkeys(range(5), 1)
    # records live beside the store, not inside it
    records = tmp_path / f"fit.zarr{JOB_SUFFIX}"
    assert (records / "settings.json").is_file()
    assert sorted(p.name for p in (records / "done" / job.fingerprint).iterdir()) == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]
    assert not any("done" in p.name for p in (tmp_path / "fit.zarr").iterdir())


def test_complete_store_just_reopens(tmp_path, reference):
    path = tmp_path / "fit.zarr"
    calls = str(tmp_path / "calls")
    template = make_template()
    first = run_resumable(
        path,
        template,
        functools.partial(compute_unit, calls=calls),
        settings={"alpha": 1.0},
        unit_size=UNIT_SIZE,
    )
    again = run_resumable(
        path, template, never_called, settings={"alpha": 1.0}, unit_size=UNIT_SIZE
    )
    xr.testing.assert_identical(again, first)
    xr.testing.assert_identical(without_created(again.load()), without_created(reference))


def test_resume_after_an_exception_computes_each_unit_once(tmp_path, reference):
    path = tmp_path / "fit.zarr"
    calls = tmp_path / "calls"
    flag = tmp_path / "fail"
    flag.touch()
    unit = functools.partial(compute_unit, calls=str(calls), fail_unit=2, flag=str(flag))
    template = make_template()

    with pytest.raises(RuntimeError, match="unit 2 failed on purpose") as info:
        run_resumable(path, template, unit, settings={"alpha": 1.0}, unit_size=UNIT_SIZE)
    assert any("run the same call again" in note for note in info.value.__notes__)

    job = ResumableJob(path, template, settings={"alpha": 1.0}, unit_size=UNIT_SIZE)
    assert job.pending() == [2]
    assert not job.is_complete()
    with pytest.warns(UserWarning, match="not all done"):
        partial = job.open()
    assert partial.attrs["xneuro_job_status"] == "incomplete"
    assert np.isnan(partial.r2.isel(voxel=job.units[2]).values).all()

    flag.unlink()
    result = job.run(unit)
    xr.testing.assert_identical(without_created(result.load()), without_created(reference))
    assert call_counts(calls) == dict.fromkeys(range(5), 1)


def test_resume_after_a_killed_worker(tmp_path, reference):
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "fit.zarr"
    calls = tmp_path / "calls"
    flag = tmp_path / "kill"
    flag.touch()
    unit = functools.partial(compute_unit, calls=str(calls), fail_unit=1, flag=str(flag), kill=True)
    template = make_template()
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with pytest.raises(distributed.KilledWorker):
            run_resumable(path, template, unit, settings={"alpha": 1.0}, unit_size=UNIT_SIZE)
        job = ResumableJob(path, template, settings={"alpha": 1.0}, unit_size=UNIT_SIZE)
        assert 1 in job.pending()
        finished = job.done()
        assert finished == set(call_counts(calls))  # recorded exactly the computed units

        flag.unlink()
        client.wait_for_workers(2, timeout=30)
        result = job.run(unit, progress=True)

    xr.testing.assert_identical(without_created(result.load()), without_created(reference))
    assert call_counts(calls) == dict.fromkeys(range(5), 1)


def test_runs_on_a_distributed_client(tmp_path, cluster_client, reference):
    calls = tmp_path / "calls"
    with dask.config.set(scheduler=cluster_client):
        result = run_resumable(
            tmp_path / "fit.zarr",
            make_template(),
            functools.partial(compute_unit, calls=str(calls)),
            settings={"alpha": 1.0},
            unit_size=UNIT_SIZE,
            progress=True,
        )
    xr.testing.assert_identical(without_created(result.load()), without_created(reference))
    assert call_counts(calls) == dict.fromkeys(range(5), 1)


def test_changed_settings_raise_and_fresh_recomputes(tmp_path):
    path = tmp_path / "fit.zarr"
    calls = tmp_path / "calls"
    unit = functools.partial(compute_unit, calls=str(calls))
    template = make_template()
    old = ResumableJob(path, template, settings={"alpha": 1.0}, unit_size=UNIT_SIZE)
    old.run(unit, progress=True)

    with pytest.raises(JobSettingsError) as info:
        ResumableJob(path, template, settings={"alpha": 2.0}, unit_size=UNIT_SIZE)
    message = str(info.value)
    assert str(path) in message
    assert old.fingerprint in message
    assert "fresh=True" in message
    assert "settings.alpha" in message

    with pytest.raises(JobSettingsError, match="unit_size"):
        ResumableJob(path, template, settings={"alpha": 1.0}, unit_size=UNIT_SIZE + 1)

    result = run_resumable(
        path, template, unit, settings={"alpha": 2.0}, unit_size=UNIT_SIZE, fresh=True
    )
    assert call_counts(calls) == dict.fromkeys(range(5), 2)
    assert result.attrs["xneuro_fingerprint"] != old.fingerprint
    assert result.attrs["xneuro_fingerprint"] in message
    records = tmp_path / f"fit.zarr{JOB_SUFFIX}" / "done"
    assert [p.name for p in records.iterdir()] == [result.attrs["xneuro_fingerprint"]]


def test_settings_fingerprint_covers_the_settings(tmp_path):
    template = make_template()
    job = ResumableJob(tmp_path / "a.zarr", template, settings={"alpha": 1.0}, unit_size=5)
    other = ResumableJob(tmp_path / "b.zarr", template, settings={"alpha": 1.0}, unit_size=5)
    assert job.fingerprint == other.fingerprint
    assert job.fingerprint != fingerprint({"alpha": 1.0})  # includes the layout too
    changed = template.assign_coords(voxel=template.voxel + 1)
    third = ResumableJob(tmp_path / "c.zarr", changed, settings={"alpha": 1.0}, unit_size=5)
    assert third.fingerprint != job.fingerprint


def test_malformed_blocks_are_rejected_before_writing(tmp_path):
    template = make_template()

    def wrong_size(index, region):
        return direct(template, slice(region.start, region.stop - 1))

    def wrong_variables(index, region):
        return direct(template, region).rename(r2="r_squared")

    def wrong_coordinate(index, region):
        return direct(template, region).assign_coords(voxel=lambda ds: ds.voxel + 1)

    def not_a_dataset(index, region):
        return np.zeros(3)

    cases = [
        (wrong_size, DimensionError, "sizes"),
        (wrong_variables, InputError, "missing \\['r2'\\]"),
        (wrong_coordinate, DimensionError, "coordinate 'voxel'"),
        (not_a_dataset, InputError, "returned a ndarray"),
    ]
    for i, (unit, error, match) in enumerate(cases):
        job = ResumableJob(tmp_path / f"{i}.zarr", template, settings={}, unit_size=UNIT_SIZE)
        with pytest.raises(error, match=match):
            job.run(unit)
        assert job.done() == set()
        assert not job.is_complete()


def test_a_dataarray_block_is_accepted_for_one_variable(tmp_path):
    template = make_template()[["r2"]]
    result = run_resumable(
        tmp_path / "r2.zarr",
        template,
        lambda index, region: direct(template, region)["r2"],
        settings={},
        unit_size=UNIT_SIZE,
    )
    np.testing.assert_allclose(result.r2.values, direct(template).r2.values)


def test_lazy_blocks_are_computed_in_the_unit(tmp_path):
    template = make_template()
    result = run_resumable(
        tmp_path / "lazy.zarr",
        template,
        lambda index, region: direct(template, region).chunk({"voxel": 2}),
        settings={},
        unit_size=UNIT_SIZE,
    )
    np.testing.assert_allclose(result.r2.values, direct(template).r2.values)


def test_an_unfinished_initialisation_or_a_deleted_store_starts_again(tmp_path):
    path = tmp_path / "fit.zarr"
    records = tmp_path / f"fit.zarr{JOB_SUFFIX}"
    calls = tmp_path / "calls"
    template = make_template()
    ResumableJob(path, template, settings={}, unit_size=UNIT_SIZE)
    (records / "initialized").unlink()  # as if killed while writing the metadata
    job = ResumableJob(path, template, settings={}, unit_size=UNIT_SIZE)
    assert (records / "initialized").is_file()
    job.run(functools.partial(compute_unit, calls=str(calls)))
    assert job.is_complete()

    shutil.rmtree(path)  # the records say done, but the data is gone
    job = ResumableJob(path, template, settings={}, unit_size=UNIT_SIZE)
    assert job.pending() == [0, 1, 2, 3, 4]
    result = job.run(functools.partial(compute_unit, calls=str(calls)))
    np.testing.assert_allclose(result.r2.values, direct(template).r2.values)
    assert call_counts(calls) == dict.fromkeys(range(5), 2)


def test_existing_path_without_records_is_not_reused(tmp_path):
    path = tmp_path / "other.zarr"
    save(make_template(), path)
    with pytest.raises(InputError, match="no job records") as info:
        ResumableJob(path, make_template(), settings={}, unit_size=UNIT_SIZE)
    assert "fresh=True" in str(info.value)
    job = ResumableJob(path, make_template(), settings={}, unit_size=UNIT_SIZE, fresh=True)
    assert job.pending() == [0, 1, 2, 3, 4]


def test_fresh_refuses_to_delete_a_directory_that_is_not_a_store(tmp_path):
    path = tmp_path / "precious"
    path.mkdir()
    (path / "thesis.txt").write_text("do not delete")
    with pytest.raises(InputError, match="not a Zarr store"):
        ResumableJob(path, make_template(), settings={}, fresh=True)
    assert (path / "thesis.txt").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"template": make_template()["r2"]}, InputError, "template"),
        ({"unit_dim": "trial"}, DimensionError, "unit_dim"),
        (
            {
                "unit_dim": "feature",
                "template": make_template()[["r2"]].assign_coords(feature=FEATURES),
            },
            DimensionError,
            "no data variable",
        ),
        ({"unit_size": 0}, InputError, "unit_size"),
        ({"unit_size": 2.5}, InputError, "unit_size"),
        ({"settings": {"model": object()}}, InputError, "settings"),
        ({"path": 3}, InputError, "path"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    arguments = {"path": tmp_path / "x.zarr", "template": make_template(), "settings": {}}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        ResumableJob(**arguments)
    assert not (tmp_path / "x.zarr").exists()


def test_run_needs_a_callable(tmp_path):
    job = ResumableJob(tmp_path / "x.zarr", make_template(), settings={}, unit_size=UNIT_SIZE)
    with pytest.raises(InputError, match="compute_unit"):
        job.run("not a function")
