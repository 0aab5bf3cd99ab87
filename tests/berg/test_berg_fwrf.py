"""fmri-nsd-fwrf: widths, labels, the network against the reference formulas, preprocessing."""

import numpy as np
import pytest

from xneuro.berg.fwrf import layout
from xneuro.berg.safe_load import load_checkpoint

torch = pytest.importorskip("torch")
F = torch.nn.functional

FWRF = "fmri-nsd-fwrf"


@pytest.fixture(scope="module")
def all_rois(berg):
    return berg.get_encoding_model(FWRF, subject=1, selection={"roi": list(layout.ROIS)},
                                   device="cpu")


def test_subject1_widths_of_all_23_rois(berg, all_rois, images):
    resp = berg.encode(all_rois, images[:1])
    assert resp.dims == ("stimulus", "voxel") and resp.dtype == np.float32
    assert resp.shape == (1, sum(layout.SUBJECT1_WIDTHS.values())) == (1, 41962)
    rois, counts = np.unique(resp["roi"].values, return_counts=True)
    assert dict(zip(rois.tolist(), counts.tolist(), strict=True)) == layout.SUBJECT1_WIDTHS
    assert np.isfinite(resp.values).all()
    # 25 weight files: lateral 3900 + 3899 and ventral 3802 + 3802 from their split files
    widths = [readout.nv for _, readout in all_rois.network.parts]
    assert len(widths) == 25
    assert widths[-4:] == [3900, 3899, 3802, 3802]


@pytest.mark.parametrize("roi", ["V1", "lateral", "mfs-words"])
def test_widths_match_metadata(berg, roi):
    meta = berg.get_model_metadata(FWRF, subject=1, roi=roi)
    n = layout.SUBJECT1_WIDTHS[roi]
    assert len(meta["fmri"]["ncsnr"]) == meta["fmri"]["roi_mask_volume"].sum() == n
    assert meta["fmri"]["roi_mask_volume"].shape == (81, 104, 83)
    assert meta["fmri"]["fmri_affine"].shape == (4, 4)
    for key in ("r2", "noise_ceiling", "explained_variance"):
        assert meta["encoding_models"][key].shape == (n,)
    assert len(meta["encoding_models"]["val_img_num"]) == 485
    assert len(meta["encoding_models"]["test_img_num"]) == 515


def test_voxel_labels_follow_the_mask_in_c_order(berg, fwrf_v1):
    meta = berg.get_model_metadata(FWRF, subject=1, roi="V1")
    mask, affine = meta["fmri"]["roi_mask_volume"], meta["fmri"]["fmri_affine"]
    labels = fwrf_v1.labels
    ijk = np.stack([labels[c].values for c in "ijk"], axis=1)
    np.testing.assert_array_equal(ijk, np.argwhere(mask))
    world = np.c_[ijk, np.ones(len(ijk))] @ affine.T
    np.testing.assert_allclose(np.stack([labels[c].values for c in "xyz"], 1), world[:, :3])
    assert set(labels["roi"].values.tolist()) == {"V1"} and int(labels["subject"]) == 1
    assert fwrf_v1.output_shape == (1350,)


def test_metadata_dataset(berg, fwrf_v1, images):
    resp, meta = berg.encode(fwrf_v1, images[:2], return_metadata=True)
    raw = berg.get_model_metadata(FWRF, subject=1, roi="V1")
    np.testing.assert_array_equal(meta["ncsnr"].values, raw["fmri"]["ncsnr"])
    np.testing.assert_array_equal(meta["r2"].values, raw["encoding_models"]["r2"])
    assert meta.sizes["test_image"] == 515
    assert (meta["voxel"] == resp["voxel"]).all()


def test_split_roi_concatenates_split1_then_split2(berg, images):
    model = berg.get_encoding_model(FWRF, subject=2, selection={"roi": "lateral"}, device="cpu")
    resp = berg.encode(model, images[:2])
    assert resp.shape == (2, 7799)
    (b1, r1), (b2, r2) = model.network.parts
    with torch.inference_mode():
        x = torch.from_numpy(images[:2].values).float() / 255
        first = r1(b1(x), 2**20).numpy()
        second = r2(b2(x), 2**20).numpy()
    np.testing.assert_allclose(resp.values[:, :3900], first, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resp.values[:, 3900:], second, rtol=1e-5, atol=1e-6)


def test_full_width_state_dict_matches_the_reference(berg_dir):
    path = layout.weights_paths(berg_dir, 3, "V1")[0]
    ckpt = load_checkpoint(path)
    enc = ckpt["best_params"]["enc"]
    shapes = {k: tuple(v.shape) for k, v in enc.items()}
    assert shapes["mu"] == (1, 3, 1, 1)
    assert shapes["pre.conv1.0.weight"] == (64, 3, 11, 11)
    assert shapes["pre.conv2.0.weight"] == (192, 64, 5, 5)
    assert shapes["enc.conv3.weight"] == (128, 192, 3, 3)
    assert shapes["enc.bn1.running_var"] == (192,)
    assert shapes["enc.conv6b.conv1.weight"] == (64, 128, 3, 3)
    for block in ("conv4a", "conv5a", "conv6a", "conv4b", "conv5b"):
        assert shapes[f"enc.{block}.conv1.weight"] == (128, 128, 3, 3)
        assert shapes[f"enc.{block}.bn1.weight"] == (128,)
    assert len(enc) == 54
    n_params = sum(v.numel() for k, v in enc.items()
                   if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert n_params == 1_365_635  # "1.37M"
    fwrf = ckpt["best_params"]["fwrfs"][3]
    assert {k: tuple(v.shape) for k, v in fwrf.items()} == {
        "rf0": (1350, 27, 27), "rf1": (1350, 25, 25), "rf2": (1350, 13, 13),
        "w": (1350, 768), "b": (1350,)}
    assert sum(v[0].numel() for v in fwrf.values()) == 2292  # parameters per voxel
    assert isinstance(ckpt["stim_mean"], np.ndarray) and ckpt["stim_mean"].shape == (1, 3, 1, 1)
    assert ckpt["args."].roi == "V1"


def _reference_backbone(x, s):
    """The backbone written out from the reference table with functional ops."""
    def bn(t, p):
        return F.batch_norm(t, s[f"{p}.running_mean"], s[f"{p}.running_var"], s[f"{p}.weight"],
                            s[f"{p}.bias"], training=False, eps=1e-5)

    def trunk(t, name):
        t = bn(t, f"enc.{name}.bn1")
        return F.relu(F.conv2d(t, s[f"enc.{name}.conv1.weight"], s[f"enc.{name}.conv1.bias"],
                               padding=1))

    x = x - s["mu"]
    c1 = F.max_pool2d(F.relu(F.conv2d(x, s["pre.conv1.0.weight"], s["pre.conv1.0.bias"],
                                      stride=4, padding=2)), 3, 2)
    y = F.relu(F.conv2d(c1, s["pre.conv2.0.weight"], s["pre.conv2.0.bias"], padding=2))
    c3 = F.relu(F.conv2d(bn(y, "enc.bn1"), s["enc.conv3.weight"], s["enc.conv3.bias"]))
    c4a = trunk(c3, "conv4a")
    c4b = trunk(c4a, "conv4b")
    c5a = trunk(F.max_pool2d(c4b, 3, 2, padding=1), "conv5a")
    c5b = trunk(c5a, "conv5b")
    c6a = trunk(c5b, "conv6a")
    c6b = trunk(c6a, "conv6b")
    tw = c6b.shape[1]
    return [torch.cat([c1, y], 1), torch.cat([c3, c4a[:, :tw], c4b[:, :tw]], 1),
            torch.cat([c5a[:, :tw], c5b[:, :tw], c6a[:, :tw], c6b], 1)]


def _reference_readout(fmaps, r):
    """Per voxel: softmax pooling fields, phi before and after pooling, then w and b (BERG's
    tensordot / bmm form)."""
    phi = lambda t: torch.log(1 + torch.abs(t)) * torch.tanh(t)
    pooled = []
    for k, fm in enumerate(fmaps):
        g = torch.softmax(r[f"rf{k}"].reshape(len(r["b"]), -1), dim=1)
        pooled.append(torch.tensordot(g, phi(fm.flatten(2)), dims=[[1], [2]]))
    big_phi = phi(torch.cat(pooled, dim=2))  # (nv, batch, 768)
    return torch.bmm(big_phi, r["w"].unsqueeze(2)).squeeze(2).t() + r["b"][None]


def test_full_width_network_matches_the_reference_formulas(berg, berg_dir, images):
    model = berg.get_encoding_model(FWRF, subject=3, selection={"roi": "V1"}, device="cpu")
    resp = berg.encode(model, images[:3])
    ckpt = load_checkpoint(layout.weights_paths(berg_dir, 3, "V1")[0])
    enc = {k: v.float() for k, v in ckpt["best_params"]["enc"].items()}
    fwrf = {k: v.float() for k, v in ckpt["best_params"]["fwrfs"][3].items()}
    with torch.inference_mode():
        x = torch.from_numpy(images[:3].values).float() / 255.0
        fmaps = _reference_backbone(x, enc)
        assert [tuple(f.shape[1:]) for f in fmaps] == [(256, 27, 27), (256, 25, 25),
                                                       (256, 13, 13)]
        expected = _reference_readout(fmaps, fwrf).numpy()
    np.testing.assert_allclose(resp.values, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_resize_to_227_as_torchvision_does(berg, fwrf_v1, images):
    from xneuro.berg._runtime import resize_square

    x = torch.from_numpy(images[:2].values).float()
    assert resize_square(x, 227) is x  # a 227 px input bypasses the resize
    big = torch.arange(2 * 3 * 300 * 300, dtype=torch.float32).reshape(2, 3, 300, 300) % 256
    expected = torch.round(F.interpolate(big, size=(227, 227), mode="bilinear",
                                         align_corners=False, antialias=True))
    torch.testing.assert_close(resize_square(big, 227), expected, rtol=0, atol=0)
    # a constant image stays constant whatever its size: same response as at 227 px
    flat = {size: np.full((1, 3, size, size), 97, np.uint8) for size in (227, 256, 400)}
    out = {size: berg.encode(fwrf_v1, img).values for size, img in flat.items()}
    np.testing.assert_array_equal(out[256], out[227])
    np.testing.assert_array_equal(out[400], out[227])


def test_batch_of_one_and_one_voxel(berg, fwrf_v1, images):
    assert berg.encode(fwrf_v1, images[:1]).shape == (1, 1350)
    from xneuro.berg.fwrf.network import Readout

    one = {f"rf{k}": torch.randn(1, s, s) for k, s in enumerate((27, 25, 13))}
    one |= {"w": torch.randn(1, 96), "b": torch.randn(1)}
    fmaps = [torch.randn(4, 32, s, s) for s in (27, 25, 13)]
    with torch.inference_mode():
        out = Readout(one, (32, 32, 32))(fmaps, 2**20)
    assert out.shape == (4, 1)  # BERG's squeeze().t() would give (1, 4)
    torch.testing.assert_close(out, _reference_readout(fmaps, one).reshape(4, 1))


def test_readout_chunking_does_not_change_results(fwrf_v1, images):
    backbone, readout = fwrf_v1.network.parts[0]
    with torch.inference_mode():
        fmaps = backbone(torch.from_numpy(images[:4].values).float() / 255)
        whole = readout(fmaps, 2**34)
        chunked = readout(fmaps, 3 * 4 * 4 * 32 * 100)  # 100 voxels per chunk
    torch.testing.assert_close(whole, chunked, rtol=1e-6, atol=1e-7)


def test_model_pickles_without_its_network(fwrf_v1, images):
    import pickle

    blob = pickle.dumps(fwrf_v1)
    assert len(blob) < 200_000
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict(images[:1].values),
                                  fwrf_v1.predict(images[:1].values))


def test_parallel_numpy_kernels_match_torch():
    from xneuro.berg._runtime import features_by_position, log_tanh, weighted_channel_sum

    x = torch.randn(300, 64, 40)
    w = torch.randn(300, 40)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        phi = log_tanh(x.reshape(-1, 40))
        summed = weighted_channel_sum(x.clone(), w)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(phi, (torch.log(1 + x.abs()) * torch.tanh(x)).reshape(-1, 40))
    torch.testing.assert_close(summed, (x * w[:, None, :]).sum(2), rtol=1e-5, atol=1e-5)
    fmap = torch.randn(2, 5, 3, 3).contiguous(memory_format=torch.channels_last)
    expected = fmap.reshape(2 * 5, 9).t()  # [space, image * channel]
    torch.testing.assert_close(features_by_position(fmap), expected, rtol=0, atol=0)
