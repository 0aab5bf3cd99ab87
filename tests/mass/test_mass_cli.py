"""``xneuro simulate`` on the command line."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("jax")

from xneuro import cli
from xneuro.core.store import open as open_store
from xneuro.core.store import save


def test_simulate_command_sweeps_into_zarr(tmp_path, capsys):
    names = ["a", "b", "c"]
    conn = xr.Dataset({"weights": (("region", "region_"), np.ones((3, 3)) - np.eye(3))},
                      coords={"region": names, "region_": names})
    save(conn, tmp_path / "conn.zarr")
    out = tmp_path / "sweep.zarr"
    code = cli.main(["simulate", "--model", "hopf", "--connectome", str(tmp_path / "conn.zarr"),
                     "--sweep", "k=0:1:3", "--param", "a=-0.1", "--duration", "0.02",
                     "--out", str(out), "--no-progress"])
    assert code == 0
    assert "stored in" in capsys.readouterr().out
    result = open_store(out)
    assert result.x.dims == ("time", "region", "k")
    np.testing.assert_allclose(result.k.values, [0.0, 0.5, 1.0])
    assert cli.main(["simulate", "--model", "nope", "--out", str(out)]) == 2
    assert "--model: is 'nope'" in capsys.readouterr().err
