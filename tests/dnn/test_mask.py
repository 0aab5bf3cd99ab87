import numpy as np
import pytest

from xneuro.core.errors import InputError
from xneuro.dnn import Mask, mask


def test_mask_selects_0_based_indices(layer):
    out = mask(layer, channels=[0, 3], rows=[1], columns=[0, 5])
    np.testing.assert_array_equal(out.values, layer.values[:, [0, 3]][:, :, [1]][:, :, :, [0, 5]])
    assert list(out["category"].values) == list(layer["category"].values)


def test_mask_tree_applies_to_every_layer_and_selects_layers(tree):
    out = mask(tree, channels=[1])
    assert out["conv"]["activation"].sizes["channel"] == 1
    np.testing.assert_array_equal(out["fc"]["activation"].values, tree["fc"]["activation"][:, [1]])
    only = mask(tree, layers="fc")
    assert list(only.children) == ["fc"]


def test_mask_with_dmask_keeps_only_its_layers(tree):
    dmask = Mask("conv", channels=[2], rows=[0, 4])
    out = mask(tree, dmask=dmask)
    assert list(out.children) == ["conv"]
    np.testing.assert_array_equal(out["conv"]["activation"],
                                  tree["conv"]["activation"].values[:, [2]][:, :, [0, 4]])


def test_mask_stays_lazy(tree, no_compute):
    out = mask(tree.chunk({"stimulus": 4}), channels=[0, 1])
    assert out["conv"]["activation"].chunks is not None


def test_one_based_indices_out_of_range_say_so(layer):
    with pytest.raises(InputError, match=r"channels: has indices \[4\] out of range.*look like "
                                         r"1-based.*subtract 1.*0-based indices in 0\.\.3"):
        mask(layer, channels=[1, 2, 3, 4])
    with pytest.raises(InputError, match=r"rows: has indices \[-1\].*0-based indices in 0\.\.4"):
        mask(layer, rows=[-1])
    with pytest.raises(InputError, match="columns: is 'first'"):
        mask(layer, columns="first")


def test_bad_layers_and_dims(tree):
    with pytest.raises(InputError, match=r"layers: names layers \['conv5'\]"):
        mask(tree, channels=[0], layers=["conv5"])
    with pytest.raises(InputError, match="rows: was given but layer 'fc' has no 'row' dim"):
        mask(tree, rows=[0])
    with pytest.raises(InputError, match="dmask: was given together"):
        mask(tree, channels=[0], dmask=Mask("conv"))
    # every layer is checked before anything is selected
    with pytest.raises(InputError, match="layer 'conv', whose size is 4"):
        mask(tree, channels=[5])  # conv has 4 channels, fc 7 units


# ----------------------------------------------------------------------------- Mask, .dmask.csv

DNNBRAIN_FILE = "conv5=chn,col\n1,3\n2\nfc3=\nconv1=row\n4,5,6\n"


def test_dmask_csv_round_trips_byte_for_byte(tmp_path):
    source = tmp_path / "roi.dmask.csv"
    source.write_bytes(DNNBRAIN_FILE.encode())
    dmask = Mask.load(source)
    assert dmask.layers == ["conv5", "fc3", "conv1"]
    assert dmask.get("conv5") == {"chn": [0, 2], "row": "all", "col": [1]}  # 0-based
    assert dmask.get("fc3") == {"chn": "all", "row": "all", "col": "all"}
    target = tmp_path / "copy.dmask.csv"
    dmask.save(target)
    assert target.read_bytes() == source.read_bytes()


def test_mask_container_methods(tmp_path):
    dmask = Mask("a", channels=[0, 1])
    dmask.set("a", rows=[2])
    dmask.set("b")
    assert dmask.get("a") == {"chn": [0, 1], "row": [2], "col": "all"}
    copy = dmask.copy()
    copy.delete("b")
    assert copy.layers == ["a"] and dmask.layers == ["a", "b"]
    path = tmp_path / "m.dmask.csv"
    dmask.save(path)
    assert path.read_text() == "a=chn,row\n1,2\n3\nb=\n"
    assert Mask().load(path) == dmask  # dnnbrain's instance style works too
    dmask.clear()
    assert len(dmask) == 0


def test_mask_file_errors(tmp_path):
    with pytest.raises(InputError, match=r"does not end with '\.dmask\.csv'"):
        Mask("a").save(tmp_path / "m.csv")
    bad = tmp_path / "zero.dmask.csv"
    bad.write_text("conv=chn\n0,1\n")
    with pytest.raises(InputError, match=r"has index 0 for chn.*1-based"):
        Mask.load(bad)
    with pytest.raises(InputError, match="channels: has negative indices"):
        Mask("a", channels=[-1])
    with pytest.raises(InputError, match="unknown keywords"):
        Mask().set("a", chn=[1])
