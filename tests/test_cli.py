import subprocess
import sys

from xneuro.cli import main


def test_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_info_lists_engines(capsys):
    assert main(["info", "--no-devices"]) == 0
    out = capsys.readouterr().out
    for name in ("numpy", "jax", "torch", "tensorflow", "cupy", "xarray", "zarr"):
        assert name in out


def test_demo_list(capsys):
    assert main(["demo", "--list"]) == 0
    assert "foundation" in capsys.readouterr().out


def test_demo_unknown_stage_is_a_clear_error(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--stage", "nope"]) == 2
    assert "stages: unknown stage(s) ['nope']" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "xneuro.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "xneuro" in out.stdout
