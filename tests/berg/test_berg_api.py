"""The BERG class, the registry, the CLI command, and import hygiene."""

import subprocess
import sys

import numpy as np
import pytest

import xneuro
from xneuro.berg import BERG, InvalidParameterError, list_models, register_model
from xneuro.berg.registry import model_class
from xneuro.cli import main

MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"


def test_list_models_and_describe(berg):
    assert list_models() == berg.list_models() == [MOSAIC, "fmri-nsd-fwrf"]
    info = berg.describe("fmri-nsd-fwrf")
    assert info["input_size"] == 227 and info["output_dim"] == "voxel"
    assert berg.describe(MOSAIC)["selection_keys"] == ["roi", "glasser_group", "voxel_index"]
    assert repr(BERG("x")).startswith("BERG('/")


def test_a_model_registers_with_one_call(monkeypatch):
    from xneuro.berg import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_model("fmri-test-fwrf", "xneuro.berg.fwrf.model:FwrfModel")
    assert "fmri-test-fwrf" in list_models()
    assert model_class("fmri-test-fwrf").__name__ == "FwrfModel"
    with pytest.raises(xneuro.core.errors.InputError, match="target: is 'nope'"):
        register_model("x", "nope")


def test_fwrf_metadata_needs_an_roi(berg):
    with pytest.raises(InvalidParameterError, match=r"roi: is required for fmri-nsd-fwrf"):
        berg.get_model_metadata("fmri-nsd-fwrf", subject=1)
    with pytest.raises(InvalidParameterError, match=r"unexpected arguments \['hemi'\]"):
        berg.get_model_metadata("fmri-nsd-fwrf", subject=1, roi="V1", hemi="L")
    meta = berg.get_model_metadata("fmri-nsd-fwrf", subject=1, roi="FFA-1")
    assert set(meta) == {"fmri", "encoding_models"}


def test_importing_xneuro_berg_does_not_import_torch():
    code = ("import sys, xneuro, xneuro.berg; xneuro.berg.list_models(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_encode(berg_dir, tmp_path, capsys):
    out = tmp_path / "v1.zarr"
    argv = ["encode", "fmri-nsd-fwrf", "--berg-dir", str(berg_dir), "--subject", "1",
            "--roi", "V1", "--sample-images", "1", "--out", str(out), "--device", "cpu",
            "--no-progress", "--batch-size", "2"]
    assert main(argv) == 0
    assert "responses {'stimulus': 4, 'voxel': 1350} written to" in capsys.readouterr().out
    resp = xneuro.open(out)["response"]
    assert resp.shape == (4, 1350) and np.isfinite(resp.values).all()
    assert main(argv) == 0  # resumes: nothing left to do
    np.save(tmp_path / "img.npy", xneuro.datasets.sample_images(1, size=224).values)
    argv = ["encode", MOSAIC, "--berg-dir", str(berg_dir), "--subject", "1", "2", "--roi",
            "L_V1", "--glasser-group", "2", "--images", str(tmp_path / "img.npy"), "--out",
            str(tmp_path / "m.zarr"), "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    assert xneuro.open(tmp_path / "m.zarr")["response"].sizes["subject"] == 2


def test_cli_errors_and_listing(berg_dir, capsys, tmp_path):
    assert main(["encode", "--list-models"]) == 0
    assert "fmri-nsd-fwrf" in capsys.readouterr().out
    assert main(["encode", "fmri-nsd-fwrf", "--berg-dir", str(berg_dir), "--roi", "V9",
                 "--sample-images", "1", "--out", str(tmp_path / "x.zarr")]) == 2
    assert "'V9' is not a valid ROI" in capsys.readouterr().err
    assert main(["encode", "fmri-nsd-fwrf"]) == 2
    assert "needs ['--berg-dir', '--out']" in capsys.readouterr().err
