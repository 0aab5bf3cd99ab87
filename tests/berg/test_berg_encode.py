"""encode: determinism over batching, laziness, the resumable store, Dask workers, precision."""

import pickle

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xneuro
from xneuro.berg import auto_batch_size, encode
from xneuro.berg.base import network_for
from xneuro.berg.fwrf.network import FwrfNetwork
from xneuro.core.parallel import worker_cache_keys

torch = pytest.importorskip("torch")

MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"


@pytest.fixture(scope="module")
def mosaic_sel(berg):
    return berg.get_encoding_model(MOSAIC, subject=[1, 2], selection={"glasser_group": [1, 5]},
                                   device="cpu")


@pytest.fixture(scope="module")
def reference(berg, fwrf_v1, images):
    return berg.encode(fwrf_v1, images, batch_size=8)


@pytest.mark.parametrize("batch_size", [1, 3, 5])
def test_fwrf_responses_do_not_depend_on_batch_size(berg, fwrf_v1, images, reference,
                                                    batch_size, rel_err):
    resp = berg.encode(fwrf_v1, images, batch_size=batch_size)
    assert rel_err(reference, resp) <= 1e-6


def test_mosaic_responses_do_not_depend_on_batch_size(berg, mosaic_sel, images, rel_err):
    one = berg.encode(mosaic_sel, images, batch_size=1)
    eight = berg.encode(mosaic_sel, images, batch_size=8)
    assert rel_err(eight, one) <= 1e-6
    again = berg.encode(mosaic_sel, images, batch_size=8)
    np.testing.assert_array_equal(again.values, eight.values)  # repeated runs: identical


def test_labels_and_stimulus_coords(reference, images):
    assert reference.name == "response" and reference.dims == ("stimulus", "voxel")
    assert (reference["category"] == images["category"]).all()
    assert reference.attrs["model_id"] == "fmri-nsd-fwrf"
    assert reference.attrs["xneuro_function"] == "xneuro.berg.encode"


def test_dask_input_stays_lazy(berg, fwrf_v1, images, no_compute):
    lazy = images.chunk({"stimulus": 3})
    resp = berg.encode(fwrf_v1, lazy, batch_size=2)
    assert resp.chunks == ((2, 2, 2, 2), (1350,))
    assert resp.dims == ("stimulus", "voxel")


@pytest.mark.parametrize(("chunks", "batch_size"), [(3, 2), (8, 5), (1, 8)])
def test_dask_chunking_does_not_change_results(berg, fwrf_v1, images, reference, chunks,
                                               batch_size, rel_err):
    resp = berg.encode(fwrf_v1, images.chunk({"stimulus": chunks}), batch_size=batch_size)
    assert rel_err(reference, resp.compute(scheduler="threads")) <= 1e-6


def test_lazy_mosaic_with_subject_dim(berg, mosaic_sel, images, rel_err):
    eager = berg.encode(mosaic_sel, images)
    lazy = berg.encode(mosaic_sel, dsa.from_array(images.values, chunks=(3, 3, 227, 227)),
                       batch_size=4)
    assert lazy.chunks[1:] == ((2,), (mosaic_sel.output_shape[1],))
    assert rel_err(eager.values, lazy.values) <= 1e-6


def test_images_from_npy_and_zarr_paths(berg, fwrf_v1, images, reference, tmp_path, rel_err):
    np.save(tmp_path / "images.npy", images.values)
    from_npy = berg.encode(fwrf_v1, tmp_path / "images.npy", batch_size=4)
    assert rel_err(reference.values, from_npy.values) <= 1e-6
    xneuro.save(images, tmp_path / "images.zarr")
    from_zarr = berg.encode(fwrf_v1, str(tmp_path / "images.zarr"), batch_size=4)
    assert from_zarr.chunks is not None
    xr.testing.assert_allclose(from_zarr.compute().drop_attrs(), reference.drop_attrs(),
                               rtol=1e-6)


class _Counter:
    """Counts (and optionally fails) calls of the fwRF network."""

    def __init__(self, monkeypatch, fail_from=None):
        self.calls, self.fail_from = [], fail_from
        original = FwrfNetwork.__call__

        def call(network, batch):
            self.calls.append(len(batch))
            if self.fail_from is not None and len(self.calls) > self.fail_from:
                raise RuntimeError("simulated worker failure")
            return original(network, batch)

        monkeypatch.setattr(FwrfNetwork, "__call__", call)


def test_store_is_written_batch_by_batch_and_resumed(berg, fwrf_v1, images, reference,
                                                     tmp_path, monkeypatch, rel_err):
    store = tmp_path / "insilico.zarr"
    counter = _Counter(monkeypatch, fail_from=2)
    with pytest.raises(RuntimeError, match="simulated worker failure") as info:
        berg.encode(fwrf_v1, images, store=store, batch_size=3)
    assert "run the same call again" in "".join(getattr(info.value, "__notes__", []))
    done = counter.calls[:2]  # batches of 3, 3 and 2 stimuli; the third call failed
    counter.fail_from = None
    counter.calls.clear()
    resp = berg.encode(fwrf_v1, images, store=store, batch_size=3, show_progress=True)
    assert len(counter.calls) == 1  # only the failed batch is computed again
    assert sorted(done + counter.calls) == [2, 3, 3]
    assert resp.chunks is not None and resp.name == "response"
    assert rel_err(reference.values, resp.values) <= 1e-6
    assert resp["roi"].values[0] == "V1"
    counter.calls.clear()
    again = berg.encode(fwrf_v1, images, store=store, batch_size=3)
    assert counter.calls == []  # complete: nothing recomputed
    reopened = xneuro.open(store)
    assert reopened.attrs["xneuro_job_status"] == "complete"
    with pytest.raises(xneuro.core.errors.JobSettingsError, match="fresh=True"):
        berg.encode(fwrf_v1, images[:4], store=store, batch_size=3)  # other images
    assert again.shape == (8, 1350)


def test_store_on_a_distributed_cluster(berg, mosaic_sel, images, tmp_path, cluster_client,
                                        rel_err):
    eager = berg.encode(mosaic_sel, images)
    lazy_images = images.chunk({"stimulus": 4})
    with dask.config.set(scheduler=cluster_client):
        resp = berg.encode(mosaic_sel, lazy_images, store=tmp_path / "m.zarr", batch_size=3)
    assert resp.dims == ("stimulus", "subject", "vertex")
    assert rel_err(eager.values, resp.values) <= 1e-6


def test_tasks_carry_the_recipe_not_the_network(berg, fwrf_v1, images):
    from xneuro.berg.encode import _Predict

    task = _Predict(fwrf_v1.recipe, fwrf_v1.output_shape, False)
    assert len(pickle.dumps(task)) < 5_000
    model = pickle.loads(pickle.dumps(fwrf_v1))
    assert "_network" not in model.__dict__
    # a process without a live handle loads the network once into its worker cache
    recipe = pickle.loads(pickle.dumps(fwrf_v1.recipe))
    fresh = berg.get_encoding_model("fmri-nsd-fwrf", subject=1, selection={"roi": "FFA-2"},
                                    device="cpu")
    recipe = pickle.loads(pickle.dumps(fresh.recipe))
    fresh.release()
    first = network_for(recipe)
    assert network_for(recipe) is first and recipe.key() in worker_cache_keys()


def test_gpu_resource_annotation(berg, fwrf_v1, images, reference, rel_err):
    distributed = pytest.importorskip("distributed")
    lazy = images.chunk({"stimulus": 4})
    resp = encode(fwrf_v1, lazy, batch_size=4, resources={"GPU": 1})
    layers = dict(resp.data.__dask_graph__().layers)
    annotated = [layer.annotations for name, layer in layers.items()
                 if name.startswith("xneuro-berg-encode")]
    assert annotated == [{"resources": {"GPU": 1}}]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  resources={"GPU": 1}, dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        out = client.compute(resp).result()
    assert rel_err(reference.values, out.values) <= 1e-6


def test_bfloat16_autocast_on_cpu(berg, images, reference, rel_err):
    model = berg.get_encoding_model("fmri-nsd-fwrf", subject=1, selection={"roi": "V1"},
                                    device="cpu", precision="bfloat16")
    resp = berg.encode(model, images)
    assert resp.dtype == np.float32
    assert rel_err(reference.values, resp.values) < 0.05
    assert np.corrcoef(reference.values.ravel(), resp.values.ravel())[0, 1] > 0.99


def test_auto_batch_size(fwrf_v1, mosaic_sel):
    assert 1 <= auto_batch_size(fwrf_v1) <= 64
    assert 1 <= auto_batch_size(mosaic_sel) <= 64


def test_show_progress(berg, fwrf_v1, images, capsys):
    berg.encode(fwrf_v1, images[:2], show_progress=True)
    assert "Encoding fMRI responses" in capsys.readouterr().err


@pytest.mark.gpu
def test_gpu_channels_last_and_bfloat16(berg, images, reference, rel_err):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    model = berg.get_encoding_model("fmri-nsd-fwrf", subject=1, selection={"roi": "V1"},
                                    device="cuda")
    assert model.network.channels_last
    assert rel_err(reference.values, berg.encode(model, images).values) < 1e-4
    half = berg.get_encoding_model("fmri-nsd-fwrf", subject=1, selection={"roi": "V1"},
                                   device="cuda", precision="bfloat16")
    assert rel_err(reference.values, berg.encode(half, images).values) < 0.05
    assert auto_batch_size(model) >= 1


@pytest.mark.gpu
def test_gpu_mosaic(berg, mosaic_sel, images, rel_err):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    gpu = berg.get_encoding_model(MOSAIC, subject=[1, 2], selection={"glasser_group": [1, 5]},
                                  device="cuda")
    assert rel_err(berg.encode(mosaic_sel, images).values,
                   berg.encode(gpu, images).values) < 1e-4


@pytest.mark.slow
def test_process_workers_load_the_network_once_each(berg, images, rel_err):
    distributed = pytest.importorskip("distributed")
    model = berg.get_encoding_model("fmri-nsd-fwrf", subject=1, selection={"roi": "V2"},
                                    device="cpu")
    expected = berg.encode(model, images)
    lazy = berg.encode(model, images.chunk({"stimulus": 4}), batch_size=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        out = client.compute(lazy).result()
        keys = list(client.run(worker_cache_keys).values())
    assert keys == [[model.recipe.key()]]  # four batch tasks, one load in the worker
    assert rel_err(expected.values, out.values) <= 1e-6
