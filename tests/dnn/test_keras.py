"""Keras extraction: runs where Keras (TensorFlow, or Keras 3 on another backend) is installed."""

import importlib.util

import numpy as np
import pytest

from xneuro.dnn import extract, layers


def _keras():
    for name in ("tensorflow", "keras"):
        if importlib.util.find_spec(name) is None:
            continue
        try:
            module = __import__(name)
            return module.keras if name == "tensorflow" else module
        except Exception:  # an installed but unusable backend
            continue
    return None


keras = _keras()
pytestmark = pytest.mark.skipif(
    keras is None, reason="Keras is not installed (TensorFlow is not a test dependency)"
)


@pytest.fixture(scope="module")
def model():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv1", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, name="fc")(x)
    return keras.Model(inputs, outputs)


def _numpy(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def test_keras_layers_equal_plain_forward(model, rng):
    images = (rng.random((5, 3, 16, 16)) * 255).astype(np.uint8)
    assert layers(model)[1:] == ["conv1", "gap", "fc"]
    act = extract(model, images, ["conv1", "fc"], batch_size=2, preprocess=None)
    x = images.transpose(0, 2, 3, 1).astype(np.float32) / 255
    conv = keras.Model(model.inputs[0], model.get_layer("conv1").output)
    np.testing.assert_allclose(act["conv1"]["activation"].values,
                               _numpy(conv(x)).transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-6)
    assert act["conv1"]["activation"].dims == ("stimulus", "channel", "row", "column")
    np.testing.assert_allclose(act["fc"]["activation"].values, _numpy(model(x)), rtol=1e-5,
                               atol=1e-6)


def test_keras_store_equals_memory_and_bad_layer(model, rng, tmp_path):
    images = (rng.random((5, 3, 16, 16)) * 255).astype(np.uint8)
    memory = extract(model, images, ["gap"], batch_size=2)
    stored = extract(model, images, ["gap"], batch_size=2, store=tmp_path / "k.zarr")
    np.testing.assert_allclose(stored["gap"]["activation"].values,
                               memory["gap"]["activation"].values, rtol=1e-6)
    with pytest.raises(ValueError, match=r"'con1' is not a layer.*close matches: \['conv1'\]"):
        extract(model, images, ["con1"])
