import pytest

import xneuro
from xneuro.core.errors import InputError


def test_set_options_context_restores():
    before = xneuro.get_options()
    with xneuro.set_options(dtype="float64", progress=True):
        assert xneuro.get_options()["dtype"] == "float64"
        assert xneuro.get_options()["progress"] is True
    assert xneuro.get_options() == before


def test_set_options_global_and_back():
    xneuro.set_options(device="cpu")
    try:
        assert xneuro.get_options()["device"] == "cpu"
    finally:
        xneuro.set_options(device="auto")


def test_unknown_option_lists_valid_ones():
    with pytest.raises(InputError, match=r"engin: is not an xneuro option.*'engine'"):
        xneuro.set_options(engin="jax")


@pytest.mark.parametrize(
    ("name", "value"),
    [("dtype", "float16"), ("device", "gpu"), ("engine", "tf"), ("progress", 1), ("chunk_bytes", 0)],
)
def test_invalid_values_name_the_option(name, value):
    with pytest.raises(InputError, match=rf"^{name}: got"):
        xneuro.set_options(**{name: value})
    assert xneuro.get_options()[name] != value


def test_invalid_value_changes_nothing():
    before = xneuro.get_options()
    with pytest.raises(InputError):
        xneuro.set_options(dtype="float64", device="tpu")
    assert xneuro.get_options() == before
