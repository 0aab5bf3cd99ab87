"""fmri-mosaic-CNN8_multihead_subNSD_verticesAll: outputs, selections, labels, formulas."""

import numpy as np
import pytest

import xneuro
from xneuro.berg import BERG, ModelFileNotFoundError, to_grayordinates
from xneuro.berg.mosaic import layout
from xneuro.berg.safe_load import load_checkpoint
from xneuro.berg.testing import GROUP_SIZES, make_miniature_berg

torch = pytest.importorskip("torch")

MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"


@pytest.fixture(scope="module")
def meta1(berg_dir):
    from xneuro.berg.mosaic.model import _read

    return _read(berg_dir, 1)


def test_57051_outputs_per_subject_and_34231_nans_in_91k(mosaic_full_resp, meta1):
    resp = mosaic_full_resp
    assert resp.dims == ("stimulus", "subject", "vertex") and resp.dtype == np.float32
    assert resp.shape == (8, 2, 57051)
    assert resp["subject"].values.tolist() == [1, 2]
    np.testing.assert_array_equal(resp["vertex"].values, meta1.vertex_mapping)
    np.testing.assert_array_equal(resp["model_index"].values, np.arange(57051))
    assert np.isfinite(resp.values).all()
    full = to_grayordinates(resp)
    assert full.shape == (8, 2, 91282)
    assert int(np.isnan(full.values[0, 0]).sum()) == 91282 - 57051 == 34231
    # BERG's expansion: pred_91k[:, vertex_mapping_all] = pred
    expected = np.full((8, 91282), np.nan, np.float32)
    expected[:, meta1.vertex_mapping] = resp.values[:, 1]
    np.testing.assert_array_equal(full.values[:, 1], expected)


def test_vertex_mapping_facts(meta1):
    mapping, groups = meta1.vertex_mapping, meta1.glasser_group
    assert len(mapping) == 57051 and (np.diff(mapping) > 0).all() and mapping.max() <= 59411
    assert (groups <= 5).sum() == 7831
    np.testing.assert_array_equal(np.bincount(groups)[1:], GROUP_SIZES)
    assert len(meta1.roi) == 360 and len(meta1.roi["L_V1"]) == 816
    assert all(len(meta1.roi[r]) == 0 for r in ("L_H", "R_H", "R_RSC"))


def test_labels_are_label_based(mosaic_full_resp, meta1):
    resp = mosaic_full_resp
    l_v1 = resp.isel(vertex=resp["roi"].values == "L_V1")
    np.testing.assert_array_equal(l_v1["vertex"].values, np.sort(meta1.roi["L_V1"]))
    np.testing.assert_array_equal(resp["glasser_group"].values, meta1.glasser_group)
    assert set(resp["hemi"].values.tolist()) == {"L", "R"}
    assert (resp.sel(vertex=meta1.roi["R_FEF"])["roi"] == "R_FEF").all()


@pytest.mark.parametrize(
    "selection",
    [
        {"glasser_group": [1]},
        {"glasser_group": 3},
        {"roi": ["R_V1", "L_FEF", "L_V1"]},  # union in ascending grayordinate order
        {"roi": ["L_V1"], "glasser_group": [1, 2]},  # overlapping: each vertex once
        {"voxel_index": np.isin(np.arange(57051), [0, 5, 57050, 30000])},
        {"roi": ["L_MT"], "voxel_index": np.arange(57051) % 1000 == 0, "glasser_group": None},
    ],
)
def test_selection_equals_the_slice_of_the_full_output(berg, mosaic_full_resp, meta1, images,
                                                        selection, rel_err):
    model = berg.get_encoding_model(MOSAIC, subject=[1, 2], selection=selection, device="cpu")
    resp = berg.encode(model, images)
    mapping = meta1.vertex_mapping
    parts = [meta1.roi[r] for r in selection.get("roi", [])]
    groups = selection.get("glasser_group")
    if groups is not None:
        parts.append(mapping[np.isin(meta1.glasser_group, groups)])
    if "voxel_index" in selection:
        parts.append(mapping[np.flatnonzero(selection["voxel_index"])])
    expected_vertex = np.unique(np.concatenate(parts))
    np.testing.assert_array_equal(resp["vertex"].values, expected_vertex)
    full = mosaic_full_resp.values[..., np.searchsorted(mapping, expected_vertex)]
    # float32: a GEMM over 4 columns may sum the 676 terms in another order than over 114k
    assert rel_err(full, resp.values) < 1e-5
    assert (resp["model_index"].values == np.searchsorted(mapping, expected_vertex)).all()


def test_group_sizes_of_selections(berg, images):
    model = berg.get_encoding_model(MOSAIC, subject=1, selection={"glasser_group": [1, 2]},
                                    device="cpu")
    assert model.output_shape == (1603 + 2547,)
    resp = berg.encode(model, images[:1])
    assert resp.dims == ("stimulus", "vertex") and int(resp["subject"]) == 1


def test_all_subjects_give_eight_heads(berg, images, mosaic_full_resp, rel_err):
    model = berg.get_encoding_model(MOSAIC, subject="all", selection={"roi": ["L_V1", "R_V1"]},
                                    device="cpu")
    resp = berg.encode(model, images[:2])
    assert resp.sizes["subject"] == 8 and resp["subject"].values.tolist() == list(range(1, 9))
    assert len(model.network.spatial.shape) == 2 and model.network.n_subjects == 8
    same = mosaic_full_resp.isel(stimulus=slice(0, 2)).sel(vertex=resp["vertex"])
    assert rel_err(same.values, resp.sel(subject=[1, 2]).values) < 1e-5
    # heads differ between subjects
    assert not np.allclose(resp.sel(subject=1).values, resp.sel(subject=8).values)


def test_vertices_outside_the_mapping_are_nan_as_in_berg(tmp_path, images):
    root = make_miniature_berg(tmp_path / "b", fwrf_rois={}, mosaic_subjects=(1,), seed=5)
    path = layout.metadata_path(root, 1)
    meta = np.load(path, allow_pickle=True).item()
    meta["roi"]["L_V1"] = np.r_[0, meta["roi"]["L_V1"]]  # grayordinate 0 is a NaN vertex
    np.save(path, meta, allow_pickle=True)
    berg = BERG(root)
    model = berg.get_encoding_model(MOSAIC, subject=1, selection={"roi": ["L_V1"]}, device="cpu")
    resp = berg.encode(model, images[:2])
    assert resp.shape == (2, 817) and int(resp["vertex"][0]) == 0
    assert int(resp["model_index"][0]) == -1
    assert np.isnan(resp.values[:, 0]).all() and np.isfinite(resp.values[:, 1:]).all()


def test_both_metadata_layouts_and_key_prefixes_agree(tmp_path, images):
    kwargs = {"fwrf_rois": {}, "mosaic_subjects": (1,), "seed": 11}
    a = make_miniature_berg(tmp_path / "a", mosaic_layout="a", mosaic_prefix=False, **kwargs)
    b = make_miniature_berg(tmp_path / "b", mosaic_layout="b", mosaic_prefix=True, **kwargs)
    keys = list(load_checkpoint(layout.weights_path(a)))
    assert len(keys) == 72 and not any(k.startswith("module.") for k in keys)
    assert all(k.startswith("module.") for k in load_checkpoint(layout.weights_path(b)))
    raw_a = BERG(a).get_model_metadata(MOSAIC, subject=1)
    assert "roi" in raw_a["fmri"] and "vertex_mapping_all" in raw_a["encoding_models"]
    out = []
    for root in (a, b):
        berg = BERG(root)
        model = berg.get_encoding_model(MOSAIC, subject=1, selection={
            "roi": ["L_V2"], "glasser_group": [5]}, device="cpu")
        out.append(berg.encode(model, images[:2]))
    xneuro_testing = pytest.importorskip("xarray.testing")
    xneuro_testing.assert_equal(out[0].drop_attrs(), out[1].drop_attrs())


def test_readout_matches_mosaics_einsum(berg, berg_dir, images, rel_err):
    model = berg.get_encoding_model(MOSAIC, subject=2, selection={"glasser_group": [4]},
                                    device="cpu")
    crops = images[:3, :, :224, :224]  # 224 px: no resize
    resp = berg.encode(model, crops)
    state = load_checkpoint(layout.weights_path(berg_dir))
    rows = torch.from_numpy(resp["model_index"].values)
    head = "module.subject_readouts.sub-02_NSD."
    spatial = state[head + "spatial"][rows].float()
    features, bias = state[head + "_features"][rows].float(), state[head + "bias"][rows].float()
    norm = spatial.pow(2).sum(dim=1, keepdim=True).sum(dim=2, keepdim=True).sqrt() + 1e-6
    with torch.inference_mode():
        x = torch.from_numpy(crops.values).float() / 255
        x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
            [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        core = model.network.core(x)
        assert core.shape[1:] == (8, 26, 26)
        y = torch.einsum("ncwh,owh->nco", core, spatial / norm)
        expected = (torch.einsum("nco,oc->no", y, features) + bias).numpy()
    assert rel_err(expected, resp.values) < 1e-5


def test_full_width_core_matches_the_reference():
    from xneuro.berg.mosaic.network import CNN8Core, core_output_size

    core = CNN8Core(384)
    shapes = {k: tuple(v.shape) for k, v in core.state_dict().items()}
    assert shapes["block1.0.weight"] == (384, 3, 5, 5)
    assert shapes["block2.0.weight"] == (384, 384, 5, 5)
    assert all(shapes[f"block{k}.0.weight"] == (384, 384, 3, 3) for k in range(3, 9))
    assert all(shapes[f"block{k}.1.running_var"] == (384,) for k in range(1, 9))
    assert len(shapes) == 48  # + 24 readout keys = 72
    assert sum(p.numel() for p in core.parameters()) == 11_683_968
    assert core_output_size(224) == 26
    readout = 384 * 57051 + 57051 * 26 * 26 + 57051
    assert readout == 60_531_111


def test_resize_to_224_with_pil_and_without(berg, images, rel_err):
    model = berg.get_encoding_model(MOSAIC, subject=1, selection={"glasser_group": [1]},
                                    device="cpu")
    big = xneuro.datasets.sample_images(1, size=300, seed=4)
    with_pil = berg.encode(model, big).values
    model.network.use_pil = False
    try:
        without = berg.encode(model, big).values
    finally:
        model.network.use_pil = True
    assert rel_err(with_pil, without) < 0.05  # PIL's fixed-point filter vs torch's float one
    same = model.network._resize(images[:2].values[..., :224, :224])
    assert same.shape == (2, 3, 224, 224)  # 224 px bypasses the resize


def test_metadata_round_trip(berg, berg_dir, mosaic_full, images):
    meta = berg.get_model_metadata(MOSAIC, subject=1)
    assert isinstance(meta, dict)
    for name in layout.NOISE_CEILINGS:
        assert meta["noise_ceiling"][name].shape == (91282,)
    both = berg.get_model_metadata(MOSAIC, subject=[1, 2])
    assert list(both) == ["sub-01", "sub-02"]
    with pytest.raises(ModelFileNotFoundError, match=r"expected .*metadata/NSD/sub-03\.npy"):
        berg.get_model_metadata(MOSAIC, subject="all")
    model = berg.get_encoding_model(MOSAIC, subject=[1, 2], selection={"roi": ["L_V3"]},
                                    device="cpu")
    resp, ds = berg.encode(model, images[:1], return_metadata=True)
    ceiling = ds["test_n-avg_noiseceiling"]
    assert ceiling.dims == ("subject", "vertex")
    np.testing.assert_array_equal(
        ceiling.sel(subject=2).values,
        both["sub-02"]["noise_ceiling"]["test_n-avg_noiseceiling"][resp["vertex"].values])
    assert ds["participant_id"].values.tolist() == ["sub-01", "sub-02"]
