import h5py
import numpy as np
import pytest

from xneuro.cli import main

pytest.importorskip("torch")


def test_act_and_act_op(tmp_path, images, capsys):
    np.save(tmp_path / "img.npy", images.values)
    net = "xneuro.dnn.nets:small_alexnet"
    assert main(["act", "--net", net, "--net-kwargs", '{"width": 8}', "--list-layers"]) == 0
    assert "features.4" in capsys.readouterr().out.split()
    store = tmp_path / "act.zarr"
    code = main(["act", "--net", net, "--net-kwargs", '{"width": 8}', "--images",
                 str(tmp_path / "img.npy"), "--layers", "features.4", "classifier.0",
                 "--out", str(store), "--batch-size", "5", "--no-progress"])
    assert code == 0 and "features.4: {'stimulus': 12, 'channel': 16" in capsys.readouterr().out
    (tmp_path / "sel.dmask.csv").write_text("features.4=chn\n1,2\n")
    h5 = tmp_path / "pooled.act.h5"
    assert main(["act-op", str(store), str(h5), "--mask", str(tmp_path / "sel.dmask.csv"),
                 "--pool", "max"]) == 0
    with h5py.File(h5) as file:
        assert list(file) == ["features.4"] and file["features.4"].shape == (12, 2, 1, 1)
    out = tmp_path / "pcs.zarr"
    assert main(["act-op", str(store), str(out), "--fe", "pca", "3", "--axis", "row_col",
                 "--layers", "features.4"]) == 0
    assert "features.4: {'stimulus': 12, 'channel': 16, 'feature': 3}" in capsys.readouterr().out


def test_bad_input_exits_with_the_message(tmp_path, capsys):
    code = main(["act-op", str(tmp_path / "missing.zarr"), str(tmp_path / "o.zarr"), "--pool",
                 "max"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    code = main(["act", "--net", "xneuro.dnn.nets", "--list-layers"])
    assert code == 2 and "--net: is 'xneuro.dnn.nets'" in capsys.readouterr().err
