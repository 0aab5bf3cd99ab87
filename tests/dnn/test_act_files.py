import h5py
import numpy as np
import pytest
import xarray as xr

import xneuro
from xneuro.core.errors import InputError
from xneuro.dnn import Activation, Mask, open_activations, read_act_h5, save_activations


@pytest.fixture
def dnnbrain_file(tmp_path, rng):
    """An .act.h5 written as dnnbrain's ActivationFile.write does."""
    path = tmp_path / "net.act.h5"
    arrays = {
        "conv5": rng.standard_normal((30, 8, 6, 6)).astype(np.float32),
        "fc2": rng.standard_normal((30, 10, 1, 1)).astype(np.float32),
    }
    with h5py.File(path, "w") as file:
        for layer, data in arrays.items():
            file.create_dataset(layer, data=data, compression="gzip")
    return path, arrays


def test_act_h5_round_trips_unchanged(dnnbrain_file, tmp_path):
    path, _arrays = dnnbrain_file
    act = Activation.load(path)
    assert act.layers == ["conv5", "fc2"]
    assert act.get("conv5").dims == ("stimulus", "channel", "row", "column")
    assert act.get("conv5").chunks is not None  # lazy
    out = tmp_path / "copy.act.h5"
    act.save(out)
    with h5py.File(path) as a, h5py.File(out) as b:
        assert list(a) == list(b)
        for name in a:
            assert a[name].shape == b[name].shape and a[name].dtype == b[name].dtype
            assert (b[name].compression, b[name].compression_opts) == ("gzip", 4)
            assert a[name].chunks == b[name].chunks
            assert dict(b[name].attrs) == {}
            np.testing.assert_array_equal(a[name][()], b[name][()])


def test_act_h5_reads_with_a_mask_and_in_blocks(dnnbrain_file):
    path, arrays = dnnbrain_file
    tree = read_act_h5(path, Mask("conv5", channels=[1, 7], columns=[0]))
    assert list(tree.children) == ["conv5"]
    np.testing.assert_array_equal(tree["conv5"]["activation"].values,
                                  arrays["conv5"][:, [1, 7]][..., [0]])
    part = read_act_h5(path)["conv5"]["activation"][7:19].values
    np.testing.assert_array_equal(part, arrays["conv5"][7:19])


def test_write_pooled_and_fc_layers_as_4d(tmp_path, tree):
    pooled = xneuro.dnn.pool(tree, "max")
    path = tmp_path / "pooled.act.h5"
    Activation(pooled).save(path)
    with h5py.File(path) as file:
        assert file["conv"].shape == (12, 4, 1, 1) and file["fc"].shape == (12, 7, 1, 1)
        np.testing.assert_array_equal(file["fc"][:, :, 0, 0], tree["fc"]["activation"].values)
    fe = xneuro.dnn.fe(tree["conv"]["activation"], "hist", 3, axis="row_col").rename("hist")
    Activation(xr.DataTree.from_dict({"/h": xr.Dataset({"activation": fe})})).save(path)
    with h5py.File(path) as file:
        assert file["h"].shape == (12, 4, 3, 1)  # dnnbrain's (n, n_chn, n_feat, 1)


def test_zarr_round_trip_both_layouts(tmp_path, tree):
    path = tmp_path / "act.zarr"
    save_activations(tree.chunk({"stimulus": 5}), path)
    back = open_activations(path)
    xr.testing.assert_identical(back["conv"]["activation"].compute(),
                                tree["conv"]["activation"])
    assert back["conv"]["activation"].chunks is not None
    act = Activation.load(path)
    assert act.layers == ["conv", "fc"]
    act.save(tmp_path / "again.zarr")
    np.testing.assert_array_equal(Activation.load(tmp_path / "again.zarr").get("fc").values,
                                  tree["fc"]["activation"].values)


def test_activation_container_like_dnnbrain(rng, tmp_path):
    act = Activation("conv1", rng.standard_normal((5, 2, 3, 3)).astype(np.float32))
    act.set("fc", rng.standard_normal((5, 4)))
    assert act.layers == ["conv1", "fc"]
    assert act.get("fc").dims == ("stimulus", "unit")
    both = act.concatenate([act[1:3]])
    assert both.get("conv1").sizes["stimulus"] == 7
    np.testing.assert_array_equal(both.get("fc").values[5:], act.get("fc").values[1:3])
    assert act[0].get("conv1").sizes["stimulus"] == 1
    total = act + act * 2 - act / 2
    np.testing.assert_allclose(total.get("fc").values, 2.5 * act.get("fc").values)
    np.testing.assert_allclose((1 - act).get("fc").values, 1 - act.get("fc").values)
    pooled = act.pool("max")
    assert pooled.get("conv1").dims == ("stimulus", "channel")
    masked = act.mask(Mask("conv1", channels=[1]))
    assert masked.layers == ["conv1"] and masked.get("conv1").sizes["channel"] == 1
    features = act.fe("hist", 2, axis="chn")
    assert features.get("conv1").dims == ("stimulus", "feature", "row", "column")
    bold = act.convolve_hrf(np.arange(5) * 4.0, np.ones(5), n_vol=20, tr=2.0)
    assert bold.get("fc").dims == ("time", "unit")
    act.delete("fc")
    assert act.layers == ["conv1"]
    act.save(tmp_path / "a.zarr")
    loaded = Activation()
    assert loaded.load(tmp_path / "a.zarr") is loaded  # dnnbrain's instance style
    assert loaded.layers == ["conv1"]


def test_activation_errors(rng):
    act = Activation("conv1", rng.standard_normal((5, 2, 3, 3)))
    with pytest.raises(InputError, match="value: of layer 'x' has 3 dims"):
        act.set("x", np.zeros((5, 2, 3)))
    other = Activation("conv1", rng.standard_normal((5, 2, 3, 4)))
    with pytest.raises(InputError, match="other: layer 'conv1' has sizes"):
        act + other
    with pytest.raises(InputError, match="activations: item 0 has layers"):
        act.concatenate([Activation("fc", np.zeros((2, 3)))])
    with pytest.raises(InputError, match="layer: 'fc' is not in the activation"):
        act.get("fc")
    with pytest.raises(InputError, match=r"does not end with '\.act\.h5'|does not exist"):
        read_act_h5("missing.h5")
