"""Every ``.dnn`` accessor method agrees with its plain function, on a layer and on a tree."""

import numpy as np
import pytest
import xarray as xr

import xneuro  # noqa: F401  (registers the accessors)
from xneuro.dnn import convolve_hrf, fe, mask, pool

ONSETS, DURATIONS = 4.0 * np.arange(12), np.ones(12)

CASES = [
    ("pool", pool, ("max",), {}),
    ("pool", pool, ("L2",), {"norm": "matrix"}),
    ("fe", fe, ("pca", 2), {"axis": "chn"}),
    ("fe", fe, ("hist", 3), {}),
    ("mask", mask, ([0, 2],), {}),
    ("convolve_hrf", convolve_hrf, (ONSETS, DURATIONS, 30, 2.0), {}),
]


def _leaf(obj):
    return obj["conv"]["activation"] if isinstance(obj, xr.DataTree) else obj


@pytest.mark.parametrize(("method", "function", "args", "kwargs"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("kind", ["dataarray", "datatree"])
def test_accessor_equals_function(tree, method, function, args, kwargs, kind):
    obj = tree if kind == "datatree" else tree["conv"]["activation"].rename("conv")
    via_accessor = getattr(obj.dnn, method)(*args, **kwargs)
    via_function = function(obj, *args, **kwargs)
    assert type(via_accessor) is type(via_function)
    xr.testing.assert_identical(_leaf(via_accessor), _leaf(via_function))
