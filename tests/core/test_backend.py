import importlib.util

import pytest

from xneuro.core import backend
from xneuro.core.errors import InputError, MissingDependencyError


def test_available_engines_reports_numpy_without_importing_others():
    engines = backend.available_engines()
    assert set(engines) == {"numpy", "jax", "torch", "tensorflow", "cupy"}
    assert engines["numpy"] is not None


def test_import_optional_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r"pip install 'xneuro\[tensorflow\]'"):
        if importlib.util.find_spec("tensorflow") is not None:
            pytest.skip("tensorflow is installed here")
        backend.import_optional("tensorflow", purpose="Keras extraction")


def test_import_optional_unknown_package_suggests_pip():
    with pytest.raises(MissingDependencyError, match=r"pip install surely_not_a_module_xyz"):
        backend.import_optional("surely_not_a_module_xyz")


def test_import_optional_returns_module():
    assert backend.import_optional("numpy").__name__ == "numpy"


def test_resolve_device_cpu_and_auto():
    assert backend.resolve_device("cpu") == "cpu"
    assert backend.resolve_device("auto", engine="numpy") == "cpu"


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 3])
def test_resolve_device_rejects_unknown(device):
    with pytest.raises(InputError, match="device: got"):
        backend.resolve_device(device)


def test_resolve_device_cuda_without_gpu_is_a_clear_error():
    if "cuda:0" in backend.engine_devices("numpy"):
        pytest.skip("unreachable")
    with pytest.raises(InputError, match="sees no CUDA device; fix: pass device='cpu'"):
        backend.resolve_device("cuda", engine="numpy")


def test_resolve_dtype():
    assert backend.resolve_dtype("float64") == "float64"
    with pytest.raises(InputError, match="dtype: got 'int8'"):
        backend.resolve_dtype("int8")


def test_engine_devices_rejects_unknown_engine():
    with pytest.raises(InputError, match="engine: got 'mxnet'"):
        backend.engine_devices("mxnet")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_devices_include_cpu():
    assert backend.engine_devices("torch")[0] == "cpu"


def test_optional_module_returns_the_module_or_none():
    import json

    from xneuro.core.backend import optional_module

    assert optional_module("json") is json
    assert optional_module("no_such_module_xneuro") is None
