import numpy as np
import pytest
import xarray as xr

import xneuro  # noqa: F401  (registers the accessors)
import xneuro.rsa as rsa


@pytest.fixture
def patterns(rng):
    return xr.DataArray(rng.normal(size=(8, 5)), dims=("stimulus", "unit"),
                        coords={"stimulus": [f"s{i}" for i in range(8)]})


@pytest.fixture
def tree(patterns):
    return xr.DataTree.from_dict({"conv1": xr.Dataset({"activation": patterns}),
                                  "fc": xr.Dataset({"activation": patterns ** 2})})


CASES = {
    "rdm": (lambda x, y: x.rsa.rdm(metric="euclidean"),
            lambda x, y: rsa.rdm(x, metric="euclidean")),
    "compare": (lambda x, y: rsa.rdm(x).rsa.compare(rsa.rdm(y), "kendall"),
                lambda x, y: rsa.compare(rsa.rdm(x), rsa.rdm(y), "kendall")),
    "compare_inference": (
        lambda x, y: rsa.rdm(x).rsa.compare(rsa.rdm(y), inference="permutation", n_iter=20,
                                            seed=0),
        lambda x, y: rsa.compare(rsa.rdm(x), rsa.rdm(y), inference="permutation", n_iter=20,
                                 seed=0)),
    "to_condensed": (lambda x, y: rsa.rdm(x).rsa.to_condensed(),
                     lambda x, y: rsa.to_condensed(rsa.rdm(x))),
    "to_square": (lambda x, y: rsa.rdm(x, form="condensed").rsa.to_square(),
                  lambda x, y: rsa.to_square(rsa.rdm(x, form="condensed"))),
    "noise_ceiling": (
        lambda x, y: xr.concat([rsa.rdm(x), rsa.rdm(y), rsa.rdm(x + y)], "subject")
        .rsa.noise_ceiling(method="pearson"),
        lambda x, y: rsa.noise_ceiling(xr.concat([rsa.rdm(x), rsa.rdm(y), rsa.rdm(x + y)],
                                                 "subject"), method="pearson")),
    "dnn_rdm_layer": (lambda x, y: x.dnn.rdm(metric="cosine"),
                      lambda x, y: rsa.rdm(x, metric="cosine")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_accessor_agrees_with_function(name, patterns):
    via_accessor, via_function = CASES[name]
    other = patterns ** 3
    xr.testing.assert_identical(via_accessor(patterns, other), via_function(patterns, other))


def test_dnn_accessor_rdm_on_a_tree(tree):
    via_accessor = tree.dnn.rdm(metric="correlation", form="condensed")
    via_function = rsa.rdm(tree, metric="correlation", form="condensed")
    assert isinstance(via_accessor, xr.DataTree)
    for layer in ("conv1", "fc"):
        xr.testing.assert_identical(via_accessor[layer]["rdm"], via_function[layer]["rdm"])
    np.testing.assert_allclose(via_accessor["fc"]["rdm"].values,
                               rsa.rdm(tree["fc"]["activation"], form="condensed").values)
