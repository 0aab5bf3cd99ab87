"""Bad inputs: each gets a clear error, raised before any file is read."""

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

from xneuro.berg import (
    BERG,
    BERGError,
    InvalidParameterError,
    ModelFileNotFoundError,
    ModelNotFoundError,
    StimulusError,
    ValidationError,
)
from xneuro.berg.validate import as_stimulus
from xneuro.core.errors import InputError

FWRF = "fmri-nsd-fwrf"
MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"
NOWHERE = BERG("/nonexistent/berg")  # no file can be read: errors must come first


def _images(n=2, size=227, dtype=np.uint8, channels=3, height=None):
    return np.zeros((n, channels, height or size, size), dtype)


# -- images -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        (_images(dtype=np.float32), r"stimulus: has dtype float32; expected integer pixel "
         r"values in 0-255.*fix: if they are in \[0, 1\], pass \(images \* 255\)"),
        (_images(dtype=np.int64) + 300, r"stimulus: has values from 300 to 300 \(stimulus "
         r"\[0, 1\]\); expected integers in 0-255 \(BERG would wrap them"),
        (_images(dtype=np.int16) - 1, r"has values from -1 to -1"),
        (_images(height=200), r"non-square images of 200 x 227 pixels.*fix: crop them"),
        (_images(channels=1), r"has 1 colour channels \(axis 1.*expected 3 RGB channels"),
        (_images(channels=4), r"has 4 colour channels"),
        (np.zeros((3, 227, 227), np.uint8), r"has shape \(3, 227, 227\); expected 4 dimensions"),
        (_images(size=100), r"images of 100 x 100 pixels; expected at least 227 x 227"),
        (_images(n=0), r"holds no images"),
        (_images().astype(bool), r"has dtype bool"),
        ([[1, 2]], r"is a list; expected a numpy, dask or xarray array"),
    ],
)
def test_bad_images(fwrf_v1, bad, pattern):
    with pytest.raises(StimulusError, match=pattern):
        NOWHERE.encode(fwrf_v1, bad)


def test_stimulus_error_is_a_berg_and_input_error():
    with pytest.raises(StimulusError) as info:
        as_stimulus(_images(dtype=np.float64), min_size=224)
    assert isinstance(info.value, BERGError | InputError | ValueError)
    assert all(isinstance(info.value, c) for c in (BERGError, InputError, ValueError))


def test_labeled_images_with_other_dims():
    bad = xr.DataArray(_images(), dims=("image", "rgb", "y", "x"))
    with pytest.raises(StimulusError, match=r"has dims \('image', 'rgb', 'y', 'x'\); expected "
                       r"dims \('stimulus', 'channel', 'row', 'column'\).*rename"):
        as_stimulus(bad, min_size=227)
    ok = xr.DataArray(_images().transpose(0, 2, 3, 1),
                      dims=("stimulus", "row", "column", "channel"))
    images, check = as_stimulus(ok, min_size=227)
    assert images.dims == ("stimulus", "channel", "row", "column") and not check


def test_lazy_wide_integers_are_checked_per_batch(fwrf_v1, no_compute):
    lazy = dsa.from_array(_images(n=4, dtype=np.int64) + 256, chunks=(2, -1, -1, -1))
    images, check = as_stimulus(lazy, min_size=227)  # stays lazy: no compute
    assert check and images.chunks is not None
    resp = NOWHERE.encode(fwrf_v1, lazy, batch_size=2)
    assert resp.chunks is not None


def test_lazy_wide_integers_raise_when_computed(fwrf_v1):
    lazy = dsa.from_array(_images(n=4, dtype=np.int64) + 256, chunks=(2, -1, -1, -1))
    resp = NOWHERE.encode(fwrf_v1, lazy, batch_size=2)
    with pytest.raises(StimulusError, match=r"values from 256 to 256 \(stimulus \[(0, 1|2, 3)\]\)"):
        resp.compute(scheduler="sync")


def test_bad_path(fwrf_v1, tmp_path):
    with pytest.raises(StimulusError, match=r"neither a \.npy file nor a Zarr store"):
        NOWHERE.encode(fwrf_v1, tmp_path / "missing.zarr")


# -- subjects, ROIs, selections: before any file is read ---------------------------------------


@pytest.mark.parametrize(
    ("model_id", "kwargs", "error", "pattern"),
    [
        (FWRF, {"subject": 9, "selection": {"roi": "V1"}}, InvalidParameterError,
         r"subject: got 9; expected one of \[1, 2, 3, 4, 5, 6, 7, 8\]"),
        (FWRF, {"subject": True, "selection": {"roi": "V1"}}, InvalidParameterError,
         r"subject: got True"),
        (FWRF, {"subject": "1", "selection": {"roi": "V1"}}, InvalidParameterError,
         r"subject: got '1'"),
        (MOSAIC, {"subject": 0}, InvalidParameterError, r"subject: got 0"),
        (MOSAIC, {"subject": "everyone"}, InvalidParameterError, r"subject: got 'everyone'"),
        (MOSAIC, {"subject": [1, 1]}, InvalidParameterError, r"repeats subjects in \[1, 1\]"),
        (MOSAIC, {"subject": []}, InvalidParameterError, r"is an empty list"),
        (FWRF, {"subject": 1, "selection": {"roi": "V9"}}, ValidationError,
         r"selection\['roi'\]: 'V9' is not a valid ROI.*did you mean \[.*'V1'"),
        (FWRF, {"subject": 1, "selection": {"roi": "ffa-1"}}, ValidationError,
         r"'ffa-1' is not a valid ROI"),
        (MOSAIC, {"subject": 1, "selection": {"roi": ["L_V1", "L_XX"]}}, ValidationError,
         r"'L_XX' is not a valid ROI"),
        (MOSAIC, {"subject": 1, "selection": {"roi": "L_V1"}}, InvalidParameterError,
         r"selection\['roi'\]: must be a list, got str 'L_V1'.*fix: pass \['L_V1'\]"),
        (FWRF, {"subject": 1, "selection": None}, InvalidParameterError,
         r"selection: is required but was not provided"),
        (FWRF, {"subject": 1, "selection": {}}, InvalidParameterError,
         r"selection\['roi'\]: is None \(an empty selection\)"),
        (FWRF, {"subject": 1, "selection": {"roi": []}}, InvalidParameterError,
         r"is \[\] \(an empty selection\)"),
        (MOSAIC, {"subject": 1, "selection": {}}, InvalidParameterError,
         r"selection: is \{\}, an empty selection.*fix: pass selection=None"),
        (MOSAIC, {"subject": 1, "selection": {"roi": None, "glasser_group": None}},
         InvalidParameterError, r"an empty selection"),
        (MOSAIC, {"subject": 1, "selection": {"roi": []}}, InvalidParameterError,
         r"is an empty list \(an empty selection\)"),
        (MOSAIC, {"subject": 1, "selection": {"glasser_group": []}}, InvalidParameterError,
         r"glasser_group'\]: is an empty list"),
        (FWRF, {"subject": 1, "selection": {"roi": "V1", "hemi": "L"}}, InvalidParameterError,
         r"selection: has unknown key\(s\) \['hemi'\]; expected keys from \['roi'\]"),
        (MOSAIC, {"subject": 1, "selection": {"glasser_group": 23}}, ValidationError,
         r"glasser_group'\]: holds 23; expected ints from 1 to 22"),
        (MOSAIC, {"subject": 1, "selection": {"voxel_index": np.ones(91282)}}, ValidationError,
         r"voxel_index'\]: has shape \(91282,\); expected exactly 57051 elements"),
        (MOSAIC, {"subject": 1, "selection": {"voxel_index": np.full(57051, 2)}},
         ValidationError, r"voxel_index'\]: is not binary"),
        (FWRF, {"subject": 1, "selection": {"roi": "V1"}, "precision": "float16"},
         InvalidParameterError, r"precision: is 'float16'"),
        (FWRF, {"subject": 1, "selection": {"roi": "V1"}, "device": "tpu"}, InputError,
         r"device: got 'tpu'"),
    ],
)
def test_bad_arguments_fail_before_any_file_is_read(model_id, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        NOWHERE.get_encoding_model(model_id, **kwargs)


def test_validation_error_is_not_a_berg_error():
    with pytest.raises(ValidationError) as info:
        NOWHERE.get_encoding_model(FWRF, subject=1, selection={"roi": "V9"})
    assert not isinstance(info.value, BERGError) and isinstance(info.value, ValueError)


def test_unknown_model():
    with pytest.raises(ModelNotFoundError, match=r"model_id: 'fmri-nsd-fwfr' is not a registered "
                       r"BERG model.*did you mean 'fmri-nsd-fwrf'"):
        NOWHERE.get_encoding_model("fmri-nsd-fwfr", subject=1)


def test_missing_directory():
    with pytest.raises(ModelFileNotFoundError, match=r"BERG directory not found: expected "
                       r"/nonexistent/berg"):
        NOWHERE.get_encoding_model(FWRF, subject=1, selection={"roi": "V1"}, device="cpu")


def test_missing_weight_file_names_the_expected_path(berg):
    expected = (berg.berg_dir / "encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/"
                "encoding_models_weights/weights_sub-02_roi-V2.pt")
    with pytest.raises(ModelFileNotFoundError, match=r"fmri-nsd-fwrf: metadata file not found"):
        berg.get_encoding_model(FWRF, subject=2, selection={"roi": "V2"}, device="cpu")
    meta = berg.berg_dir / ("encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/"
                            "metadata/metadata_sub-02_roi-V2.npy")
    meta.write_bytes((meta.parent / "metadata_sub-02_roi-V1.npy").read_bytes())
    try:
        with pytest.raises(ModelFileNotFoundError, match="weights file not found: expected "
                           + str(expected).replace(".", r"\.")):
            berg.get_encoding_model(FWRF, subject=2, selection={"roi": "V2"}, device="cpu")
    finally:
        meta.unlink()


def test_missing_split_file(berg):
    split2 = (berg.berg_dir / "encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/"
              "encoding_models_weights/weights_sub-02_roi-lateral_split-2.pt")
    moved = split2.with_suffix(".moved")
    split2.rename(moved)
    try:
        with pytest.raises(ModelFileNotFoundError, match=r"weights_sub-02_roi-lateral_split-2\.pt"):
            berg.get_encoding_model(FWRF, subject=2, selection={"roi": "lateral"}, device="cpu")
    finally:
        moved.rename(split2)


def test_empty_vertex_selection_after_reading_metadata(berg):
    for roi in ("R_RSC", "L_H", "R_H"):
        with pytest.raises(InvalidParameterError, match=r"selects no vertices.*L_H, R_H and "
                           r"R_RSC have none"):
            berg.get_encoding_model(MOSAIC, subject=1, selection={"roi": [roi]}, device="cpu")


def test_bad_encode_arguments(berg, fwrf_v1, images):
    with pytest.raises(InputError, match=r"batch_size: is 0; expected a positive int"):
        berg.encode(fwrf_v1, images, batch_size=0)
    with pytest.raises(InputError, match=r"model: is a str; expected a model from"):
        berg.encode("fmri-nsd-fwrf", images)
