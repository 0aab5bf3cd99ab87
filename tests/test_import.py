import subprocess
import sys

import xarray as xr

import xneuro


def test_import_does_not_load_heavy_engines():
    code = (
        "import sys, xneuro; "
        "heavy = [m for m in ('torch', 'tensorflow', 'jax', 'cupy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_accessors_are_registered():
    da = xr.DataArray([[1.0]], dims=("time", "voxel"))
    assert hasattr(da, "xneuro")
    assert hasattr(xr.Dataset(), "xneuro")


def test_version_is_a_string():
    assert isinstance(xneuro.__version__, str) and xneuro.__version__


def test_science_modules_load_on_first_use():
    code = (
        "import sys, xneuro; "
        "before = 'xneuro.io' in sys.modules; "
        "xneuro.io.load_bold; "
        "print(before, 'xneuro.io' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_unknown_attribute_raises():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        xneuro.nope  # noqa: B018
