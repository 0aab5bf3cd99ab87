import pytest
import xarray as xr

from xneuro.demo import DemoContext, load_stages

pytest.importorskip("torch")


def test_dnn_stage_writes_stores_figure_and_shares_activations(tmp_path):
    stage = load_stages()["dnn"]
    context = DemoContext(out=tmp_path, progress=False)
    lines = stage.run(context)
    assert any("images/s" in line for line in lines)
    assert (tmp_path / "dnn_activations.zarr").is_dir() and (tmp_path / "dnn_pooled.zarr").is_dir()
    assert (tmp_path / "dnn.png").stat().st_size > 10_000
    tree = context.shared["activations"]
    assert isinstance(tree, xr.DataTree)
    assert tree["features.9"]["activation"].dims == ("stimulus", "channel", "row", "column")
    assert "category" in tree["features.9"]["activation"].coords
