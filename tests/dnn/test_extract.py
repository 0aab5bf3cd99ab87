import dask
import numpy as np
import pytest
import xarray as xr
import zarr

import xneuro
from xneuro.core.errors import InputError
from xneuro.dnn import Mask, Stimulus, extract, layers, mask, pool

torch = pytest.importorskip("torch")

LAYERS = ["features.0", "features.4", "features.9", "classifier.0"]


def _plain_forward(net, images):
    x = torch.from_numpy(images.values).float() / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    with torch.no_grad():
        f0 = net.features[:1](x).clone()
        f4 = net.features[:5](x).clone()
        f9 = net.features(x)
        c0 = net.classifier[0](torch.flatten(net.avgpool(f9), 1))
    return {"features.0": f0, "features.4": f4, "features.9": f9, "classifier.0": c0}


@pytest.fixture(scope="module")
def reference(net, images):
    return extract(net, images, LAYERS, batch_size=5)


def test_layers_are_module_paths(net):
    names = layers(net)
    assert names[:3] == ["features", "features.0", "features.1"]
    assert "classifier.2" in names and "" not in names


def test_one_pass_equals_plain_forward(net, images, reference):
    calls = []
    handle = net.register_forward_pre_hook(lambda module, args: calls.append(len(args[0])))
    try:
        act = extract(net, images, LAYERS, batch_size=5)
    finally:
        handle.remove()
    assert calls == [1, 5, 5, 2]  # the check on one image, then one pass per batch
    expected = _plain_forward(net, images)
    for name in LAYERS:
        np.testing.assert_allclose(act[name]["activation"].values, expected[name].numpy(),
                                   rtol=1e-5, atol=1e-5)
    conv = act["features.4"]["activation"]
    assert conv.dims == ("stimulus", "channel", "row", "column")
    assert act["classifier.0"]["activation"].dims == ("stimulus", "unit")
    assert list(conv["stimulus"].values) == list(images["stimulus"].values)
    assert list(conv["category"].values) == list(images["category"].values)
    assert act.attrs["xneuro_function"] == "xneuro.dnn.extract"
    assert not net.training and all(not m._forward_hooks for m in net.modules())


def test_store_path_equals_in_memory(net, images, reference, tmp_path):
    act = extract(net, images, LAYERS, batch_size=5, store=tmp_path / "act.zarr")
    for name in LAYERS:
        lazy = act[name]["activation"]
        assert lazy.chunks is not None and lazy.chunksizes["stimulus"][0] == 5
        np.testing.assert_allclose(lazy.values, reference[name]["activation"].values, rtol=1e-6)
    assert list(act["features.0"]["activation"]["category"].values) == list(
        images["category"].values)
    again = xneuro.dnn.open_activations(tmp_path / "act.zarr")
    assert sorted(again.children) == sorted(LAYERS)


def test_distributed_cluster_equals_in_memory(net, images, reference, tmp_path, cluster_client):
    with dask.config.set(scheduler=cluster_client):
        act = extract(net, images, LAYERS[:2], batch_size=4, store=tmp_path / "act.zarr")
    for name in LAYERS[:2]:
        np.testing.assert_allclose(act[name]["activation"].values,
                                   reference[name]["activation"].values, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "act.zarr.xneuro-net.pt").exists()


class FailOnce:
    """ImageNet-free preprocessing that fails on its third call, once, and counts calls."""

    def __init__(self):
        self.calls = 0
        self.fail = True

    def __call__(self, x):
        self.calls += 1
        if self.fail and self.calls == 3:
            self.fail = False
            raise RuntimeError("worker lost")
        return x


def test_interrupted_extraction_resumes(net, images, tmp_path):
    path = tmp_path / "act.zarr"
    flaky = FailOnce()
    with dask.config.set(scheduler="sync"), pytest.raises(RuntimeError, match="worker lost"):
        extract(net, images, ["features.4"], batch_size=3, store=path, preprocess=flaky)
    # the check on one image, then units 0, 1 (fails), 2, 3: every unit is attempted
    assert flaky.calls == 5
    assert zarr.open_group(str(path)).attrs["xneuro_job_status"] == "incomplete"
    flaky.calls = 0
    act = extract(net, images, ["features.4"], batch_size=3, store=path, preprocess=flaky)
    assert flaky.calls == 2  # the check on one image, then the failed unit only
    assert zarr.open_group(str(path)).attrs["xneuro_job_status"] == "complete"
    expected = extract(net, images, ["features.4"], batch_size=3, preprocess=lambda x: x)
    np.testing.assert_allclose(act["features.4"]["activation"].values,
                               expected["features.4"]["activation"].values, rtol=1e-6)


def test_per_batch_pool_and_mask_equal_post_hoc(net, images, reference):
    dmask = Mask("features.4", channels=[0, 3, 5], rows=[1, 2])
    act = extract(net, images, LAYERS, batch_size=5, pool="max", dmask=dmask)
    expected = pool(mask(reference, dmask=dmask), "max")
    np.testing.assert_allclose(act["features.4"]["activation"].values,
                               expected["features.4"]["activation"].values, rtol=1e-6)
    assert act["features.0"]["activation"].dims == ("stimulus", "channel")
    np.testing.assert_allclose(act["features.0"]["activation"].values,
                               pool(reference, "max")["features.0"]["activation"].values)


def test_image_files_stimulus_table_and_array_layouts(net, images, reference, tmp_path):
    pil = pytest.importorskip("PIL.Image")
    folder = tmp_path / "pics"
    folder.mkdir()
    for name, image in zip(images["stimulus"].values, images.values, strict=True):
        pil.fromarray(image.transpose(1, 2, 0)).save(folder / f"{name}.png")
    expected = reference["features.0"]["activation"].values
    files = [f"{n}.png" for n in images["stimulus"].values]
    from_folder = extract(net, folder, ["features.0"], batch_size=5)["features.0"]["activation"]
    assert list(from_folder["stimulus"].values) == sorted(files)  # files in name order
    np.testing.assert_allclose(from_folder.sel(stimulus=files).values, expected, rtol=1e-6)
    table = Stimulus({"type": "image", "path": str(folder)},
                     {"stimID": np.array([f"{n}.png" for n in images["stimulus"].values]),
                      "label": np.arange(12) % 4})
    table.save(tmp_path / "pics.stim.csv")
    from_table = extract(net, tmp_path / "pics.stim.csv", ["features.0"], batch_size=5)
    assert list(from_table["features.0"]["activation"]["label"].values) == list(np.arange(12) % 4)
    np.testing.assert_allclose(from_table["features.0"]["activation"].values, expected, rtol=1e-6)
    channel_last = extract(net, images.values.transpose(0, 2, 3, 1), ["features.0"], batch_size=5)
    np.testing.assert_allclose(channel_last["features.0"]["activation"].values, expected, rtol=1e-6)
    floats = extract(net, images.values / 255.0, ["features.0"], batch_size=5)
    np.testing.assert_allclose(floats["features.0"]["activation"].values, expected, rtol=1e-5,
                               atol=1e-5)
    lazy = extract(net, images.chunk({"stimulus": 4}), ["features.0"], batch_size=5)
    np.testing.assert_allclose(lazy["features.0"]["activation"].values, expected, rtol=1e-6)


# ----------------------------------------------------------------------------- bad input


def test_unknown_layer_lists_close_matches(net, images):
    with pytest.raises(InputError, match=r"'feature.4' is not a layer.*close matches: \['features.4"):
        extract(net, images, ["features.0", "feature.4"])
    with pytest.raises(InputError, match=r"'conv5' is not a layer.*its layers start with"):
        extract(net, images, "conv5")


def test_float_images_out_of_range(net, images):
    with pytest.raises(InputError, match=r"images: are floats in \[0, 255\], out of range.*"
                                         r"divide 0-255 float images by 255"):
        extract(net, images.values.astype(np.float32), ["features.0"])
    lazy = xr.DataArray(images.values * 2.0, dims=images.dims).chunk({"stimulus": 4})
    with pytest.raises(InputError, match="out of range"):
        extract(net, lazy, ["features.0"])


def test_wrong_image_shape_for_the_network(net, images):
    gray = images.isel(channel=[0])
    with pytest.raises(InputError, match=r"images: the network failed on images of shape "
                                         r"\(1, 32, 32\).*size=\(rows, columns\)"):
        extract(net, gray, ["features.0"], preprocess=None)
    tiny = np.zeros((3, 3, 4, 4), dtype=np.uint8)
    with pytest.raises(InputError, match=r"shape \(3, 4, 4\)"):
        extract(net, tiny, ["classifier.0"])


def test_mask_indices_checked_before_any_batch(net, images):
    calls = []
    handle = net.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        with pytest.raises(InputError, match=r"channels: has indices \[8\].*1-based"):
            extract(net, images, ["features.0"], dmask=Mask("features.0", channels=[1, 8]))
    finally:
        handle.remove()
    assert calls == [1]  # only the check on one image ran


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size: is 0"),
        ({"pool": "sum"}, "pool: is 'sum'"),
        ({"dmask": Mask("classifier.2")}, r"dmask: has layers \['classifier.2'\] that are not"),
        ({"preprocess": "vgg"}, "preprocess: is 'vgg'"),
        ({"device": "tpu"}, "device: got 'tpu'"),
        ({"dtype": "int8"}, "dtype: is 'int8'"),
    ],
)
def test_bad_arguments(net, images, kwargs, match):
    with pytest.raises(InputError, match=match):
        extract(net, images, ["features.0"], **kwargs)


def test_not_a_network(images):
    with pytest.raises(InputError, match=r"net: is a dict; expected a torch.nn.Module or a Keras"):
        extract({}, images, ["a"])


@pytest.mark.gpu
def test_cuda_equals_cpu(net, images, reference):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    act = extract(net, images, LAYERS, batch_size=5, device="cuda")
    net.to("cpu")
    for name in LAYERS:
        np.testing.assert_allclose(act[name]["activation"].values,
                                   reference[name]["activation"].values, rtol=1e-3, atol=1e-3)
