"""BERG's pickled files are read without running code they carry."""

import argparse
import os
import pickle

import numpy as np
import pytest

from xneuro.berg import ModelFileNotFoundError, ModelLoadError, UnsafeFileError
from xneuro.berg.safe_load import load_checkpoint, load_npy

torch = pytest.importorskip("torch")


class Evil:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_npy_with_pickle(path, obj):
    """An object-array .npy whose pickle holds ``obj`` (what np.save of a dict writes)."""
    array = np.empty((), dtype=object)
    array[()] = obj
    with open(path, "wb") as file:
        np.lib.format.write_array(file, array, allow_pickle=True)


def test_malicious_npy_metadata_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "metadata_sub-01_roi-V1.npy"
    _write_npy_with_pickle(path, {"fmri": {"ncsnr": Evil(marker)}})
    with pytest.raises(UnsafeFileError, match=r"metadata_sub-01_roi-V1\.npy: refused to load "
                       r"type (posix|nt)\.system.*nothing in the file was run"):
        load_npy(path)
    assert not marker.exists()


def test_malicious_checkpoint_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "weights_sub-01_roi-V1.pt"
    torch.save({"best_params": {"enc": {}}, "x": Evil(marker)}, path)
    with pytest.raises(UnsafeFileError, match=r"weights_sub-01_roi-V1\.pt: refused to load type "
                       r"(posix|nt)\.system"):
        load_checkpoint(path)
    assert not marker.exists()


class Plain:
    """An ordinary class, not on the allow-list."""


def test_checkpoint_with_an_unknown_class_is_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"x": Plain()}, path)
    with pytest.raises(UnsafeFileError, match=r"w\.pt: refused to load type .*Plain"):
        load_checkpoint(path)


def test_berg_checkpoint_types_load(tmp_path):
    path = tmp_path / "w.pt"
    content = {
        "args.": argparse.Namespace(roi="V1", lr=1e-3),
        "stim_mean": np.ones((1, 3, 1, 1), np.float32),
        "best_joint_cc_score": np.float64(0.5),
        "betas_info": {1: {"masterordering": np.arange(4), "names": np.array(["a", "bc"])}},
        "best_params": {"enc": {"mu": torch.zeros(1, 3, 1, 1)}},
    }
    torch.save(content, path)
    before = list(torch.serialization.get_safe_globals())
    loaded = load_checkpoint(path)
    assert loaded["args."].roi == "V1"
    np.testing.assert_array_equal(loaded["stim_mean"], content["stim_mean"])
    assert loaded["best_joint_cc_score"] == 0.5
    assert loaded["betas_info"][1]["names"].tolist() == ["a", "bc"]
    # the process-wide torch allow-list is left as it was
    assert list(torch.serialization.get_safe_globals()) == before


def test_metadata_dict_loads(tmp_path):
    path = tmp_path / "m.npy"
    meta = {"fmri": {"roi_mask_volume": np.zeros((2, 3, 4), bool), "fmri_affine": np.eye(4)},
            "x": np.float32(2.5), "names": np.array(["a"], dtype=object)}
    np.save(path, meta, allow_pickle=True)
    loaded = load_npy(path)
    assert loaded["fmri"]["roi_mask_volume"].shape == (2, 3, 4)
    assert loaded["x"] == np.float32(2.5)


def test_plain_npy_and_protocol5_pickle(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(5))
    np.testing.assert_array_equal(load_npy(tmp_path / "a.npy"), np.arange(5))
    path = tmp_path / "p5.npy"
    array = np.empty((), dtype=object)
    array[()] = {"v": np.arange(3)}
    with open(path, "wb") as file:  # header, then a protocol-5 pickle
        np.lib.format.write_array_header_1_0(
            file, {"descr": "|O", "fortran_order": False, "shape": ()})
        pickle.dump(array, file, protocol=5)
    np.testing.assert_array_equal(load_npy(path)["v"], np.arange(3))


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelFileNotFoundError, match=r"metadata file not found: expected .*nope"
                       r"\.npy"):
        load_npy(tmp_path / "nope.npy")
    with pytest.raises(ModelFileNotFoundError, match=r"weights file not found: expected"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match=r"bad\.pt: torch could not read"):
        load_checkpoint(tmp_path / "bad.pt")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ModelLoadError, match=r"bad\.npy: not a readable \.npy"):
        load_npy(tmp_path / "bad.npy")
