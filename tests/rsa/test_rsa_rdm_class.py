import h5py
import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform

import xneuro.rsa as rsa
from xneuro.core.errors import DimensionError, InputError
from xneuro.rsa import RDM


def test_set_get_brdm_in_both_forms(rng):
    v = pdist(rng.normal(size=(6, 3)))
    r = RDM()
    r.set("V1", v, triu=True)
    r.set("V2", squareform(v) * 2)
    assert (r.rdm_type, r.n_item, r.keys) == ("bRDM", 6, ["V1", "V2"])
    np.testing.assert_array_equal(r.get("V1", triu=True), v)
    np.testing.assert_allclose(r.get("V2"), squareform(v) * 2)  # full symmetric square
    assert r.get("V1").shape == (6, 6) and "V1" in r and len(r) == 2
    r.delete("V2")
    assert r.keys == ["V1"]


def test_set_get_drdm(rng):
    stack = np.stack([pdist(rng.normal(size=(5, 3))) for _ in range(4)])
    r = RDM()
    r.set("conv1", stack, triu=True)
    assert (r.rdm_type, r.n_item) == ("dRDM", 5)
    assert r.get("conv1").shape == (4, 5, 5)
    np.testing.assert_allclose(r.get("conv1")[2], squareform(stack[2]))
    square = np.stack([squareform(s) for s in stack])
    r.set("conv2", square)
    np.testing.assert_allclose(r.get("conv2", triu=True), stack)


def test_n_iter_equal_to_pairs_is_not_mistaken_for_a_square(rng):
    r = RDM()
    r.set("tiny", rng.random((3, 3)), triu=True)  # 3 iterations of 3 items (3 pairs)
    assert (r.rdm_type, r.n_item) == ("dRDM", 3)


def test_brdm_file_layout_and_round_trip(tmp_path, rng):
    r = RDM()
    r.set("V1", pdist(rng.normal(size=(7, 3))), triu=True)
    r.set("hV4", pdist(rng.normal(size=(7, 3))), triu=True)
    path = tmp_path / "roi.rdm.h5"
    r.save(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["type"] == "bRDM"
        assert sorted(f) == ["V1", "hV4"]
        assert f["V1"].shape == (21,) and f["V1"].dtype == np.float64
        assert f["V1"].compression == "gzip"
        assert "xneuro_items" not in f.attrs
    back = RDM()
    back.load(path)
    assert back.keys == r.keys and back.rdm_type == "bRDM"
    np.testing.assert_array_equal(back.get("hV4", triu=True), r.get("hV4", triu=True))


def test_reads_a_file_written_in_dnnbrains_layout(tmp_path, rng):
    stack = rng.random((4, 10))  # dRDM: 4 channels, 5 items
    path = tmp_path / "alexnet.rdm.h5"
    with h5py.File(path, "w") as f:  # what dnnbrain's RDM.save writes
        f.attrs["type"] = "dRDM"
        f.create_dataset("conv5", data=stack, compression="gzip")
    r = RDM()
    r.load(path)
    assert (r.rdm_type, r.keys, r.n_item) == ("dRDM", ["conv5"], 5)
    np.testing.assert_array_equal(r.get("conv5", triu=True), stack)
    out = tmp_path / "again.rdm.h5"
    r.save(out)
    with h5py.File(out, "r") as f:
        assert f.attrs["type"] == "dRDM"
        np.testing.assert_array_equal(f["conv5"][()], stack)


def test_labeled_rdms_keep_their_items_through_files(tmp_path, rng):
    act = xr.DataArray(rng.normal(size=(6, 4, 2, 2)), dims=("stimulus", "channel", "row", "column"),
                       coords={"stimulus": list("abcdef")})
    tree = xr.DataTree.from_dict({"conv1": xr.Dataset({"activation": act}),
                                  "conv2": xr.Dataset({"activation": act ** 2})})
    r = RDM.from_xarray(rsa.rdm(tree, iteration="channel"))
    assert r.keys == ["conv1", "conv2"] and r.rdm_type == "dRDM"
    assert list(r.items) == list("abcdef")
    r.save(tmp_path / "x.rdm.h5")
    back = RDM()
    back.load(tmp_path / "x.rdm.h5")
    assert list(back.items) == list("abcdef")
    labeled = back.labeled("conv2")
    assert labeled.dims == ("iteration", "stimulus", "stimulus_")
    np.testing.assert_allclose(labeled.values,
                               rsa.rdm(act ** 2, iteration="channel").values, atol=1e-12)
    ds = back.to_dataset()
    assert set(ds.data_vars) == {"conv1", "conv2"} and ds.attrs["rdm_type"] == "dRDM"


def test_rdm_class_errors(tmp_path, rng):
    r = RDM()
    r.set("a", pdist(rng.normal(size=(5, 2))), triu=True)
    with pytest.raises(DimensionError, match=r"has 6 items; expected the 5 items"):
        r.set("b", pdist(rng.normal(size=(6, 2))), triu=True)
    with pytest.raises(DimensionError, match=r"is a dRDM of shape \(2, 10\)"):
        r.set("c", np.zeros((2, 10)), triu=True)
    with pytest.raises(DimensionError, match=r"has shape \(4, 3\) with triu=False"):
        r.set("d", np.zeros((4, 3)))
    with pytest.raises(DimensionError, match=r"rdm_arr: has 7 pairs"):
        RDM().set("e", np.zeros(7), triu=True)
    with pytest.raises(InputError, match=r"key: is 'a/b'"):
        r.set("a/b", pdist(rng.normal(size=(5, 2))), triu=True)
    with pytest.raises(InputError, match=r"key: 'zz' is not in this RDM"):
        r.get("zz")
    with pytest.raises(InputError, match=r"fname: .*expected a path ending in '.rdm.h5'"):
        r.save(tmp_path / "x.h5")
    with pytest.raises(InputError, match=r"rdm_type: got 'xRDM'"):
        RDM("xRDM")
