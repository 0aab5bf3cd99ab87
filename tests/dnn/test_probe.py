import numpy as np
import pytest
import xarray as xr
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from xneuro.core.errors import DimensionError, InputError
from xneuro.dnn.probe import DnnProbe


@pytest.fixture
def planted(rng):
    """Activations (60, 4, 3, 3) with behaviour 0 driven by unit (2, 1, 0), 1 by (1, 0, 2)."""
    act = rng.normal(size=(60, 4, 3, 3))
    beh = np.c_[2 * act[:, 2, 1, 0] + 0.5 * rng.normal(size=60),
                act[:, 1, 0, 2] + 0.5 * rng.normal(size=60)]
    return act, beh


def _unit(act, location):
    c, r, k = np.asarray(location) - 1  # dnnbrain's locations are 1-based
    return act[:, c, r, k][:, None]


def test_uv_corr_picks_the_right_unit_and_location(planted):
    act, beh = planted
    out = DnnProbe({"conv": act}, "uv", "corr").probe(beh)["conv"]
    assert set(out) == {"score", "location"}
    np.testing.assert_array_equal(out["location"][0], [[3, 2, 1], [2, 1, 3]])
    flat = act.reshape(60, -1)
    r = np.array([[np.corrcoef(flat[:, u], beh[:, b])[0, 1] for b in range(2)]
                  for u in range(flat.shape[1])])
    np.testing.assert_allclose(out["score"][0], r.max(0), atol=1e-12)


def test_uv_corr_per_channel_and_position(planted):
    act, beh = planted
    probe = DnnProbe({"conv": act}, "uv", "corr")
    per_channel = probe.probe(beh, "channel")["conv"]
    assert per_channel["score"].shape == (4, 2) and per_channel["location"].shape == (4, 2, 3)
    np.testing.assert_array_equal(per_channel["location"][2, 0], [3, 2, 1])
    np.testing.assert_array_equal(per_channel["location"][:, 0, 0], [1, 2, 3, 4])
    per_position = probe.probe(beh, "row_col")["conv"]
    assert per_position["score"].shape == (9, 2)
    np.testing.assert_array_equal(per_position["location"][3, 0], [3, 2, 1])  # row 1, column 0


def test_uv_glm_reproduces_cross_val_score(planted):
    act, beh = planted
    out = DnnProbe({"conv": act}, "uv", "glm", cv=5).probe(beh)["conv"]
    assert out["score"].shape == (1, 2, 5) and out["model"].shape == (1, 2)
    flat = act.reshape(60, -1)
    for b in range(2):
        all_units = np.array([cross_val_score(LinearRegression(), flat[:, [u]], beh[:, b], cv=5)
                              for u in range(flat.shape[1])])
        best = all_units.mean(1).argmax()
        np.testing.assert_allclose(out["score"][0, b], all_units[best], atol=1e-10)
        np.testing.assert_array_equal(out["location"][0, b] - 1,
                                      np.unravel_index(best, (4, 3, 3)))
        model = out["model"][0, b]
        assert isinstance(model, LinearRegression)
        np.testing.assert_allclose(model.coef_, LinearRegression().fit(
            _unit(act, out["location"][0, b]), beh[:, b]).coef_)


@pytest.mark.parametrize("scoring", ["explained_variance", "neg_mean_squared_error", "correlation"])
def test_uv_ridge_with_shuffled_folds_and_other_scorers(planted, scoring):
    act, beh = planted
    cv = KFold(4, shuffle=True, random_state=3)
    out = DnnProbe({"conv": act}, "uv", Ridge(alpha=2.0), cv=cv, scoring=scoring).probe(
        beh, "channel")["conv"]
    loc = out["location"][1, 1]
    metric = "r2" if scoring == "correlation" else scoring
    if scoring == "correlation":
        from sklearn.metrics import make_scorer

        metric = make_scorer(lambda t, p: np.corrcoef(t, p)[0, 1])
    expected = cross_val_score(Ridge(alpha=2.0), _unit(act, loc), beh[:, 1], cv=cv, scoring=metric)
    np.testing.assert_allclose(out["score"][1, 1], expected, atol=1e-10)


def test_uv_classifier_uses_sklearn_folds_and_confusions(planted):
    act, beh = planted
    labels = (beh[:, 0] > np.median(beh[:, 0])).astype(int)
    out = DnnProbe({"conv": act[:, :2]}, "uv", "lrc", cv=3).probe(labels)["conv"]
    assert set(out) == {"score", "location", "model", "conf_m"}
    column = _unit(act[:, :2], out["location"][0, 0])
    np.testing.assert_allclose(out["score"][0, 0],
                               cross_val_score(LogisticRegression(), column, labels, cv=3))
    folds = StratifiedKFold(3).split(column, labels)
    for f, (train, test) in enumerate(folds):
        pred = LogisticRegression().fit(column[train], labels[train]).predict(column[test])
        np.testing.assert_array_equal(out["conf_m"][0, 0, f], confusion_matrix(labels[test], pred))
    assert isinstance(out["model"][0, 0], LogisticRegression)


def test_mv_reproduces_cross_val_score(planted):
    act, beh = planted
    out = DnnProbe({"conv": act}, "mv", "glm", cv=5, scoring="explained_variance").probe(
        beh, "channel")["conv"]
    assert set(out) == {"score", "model"} and out["score"].shape == (4, 2, 5)
    for c in range(4):
        expected = cross_val_score(LinearRegression(), act[:, c].reshape(60, -1), beh[:, 1], cv=5,
                                   scoring="explained_variance")
        np.testing.assert_allclose(out["score"][c, 1], expected, atol=1e-10)


def test_mv_pipeline_and_default_scoring(planted):
    act, beh = planted
    pipe = make_pipeline(StandardScaler(), Ridge(alpha=5.0))
    out = DnnProbe({"conv": act}, "mv", pipe, cv=3).probe(beh[:, 0])["conv"]  # scoring=None: R²
    expected = cross_val_score(pipe, act.reshape(60, -1), beh[:, 0], cv=3)
    np.testing.assert_allclose(out["score"][0, 0], expected, atol=1e-10)


def test_mv_classifier_confusions(planted):
    act, beh = planted
    labels = np.digitize(beh[:, 0], np.quantile(beh[:, 0], [1 / 3, 2 / 3]))
    out = DnnProbe({"conv": act}, "mv", "svc", cv=3).probe(labels, "channel")["conv"]
    assert out["conf_m"].shape == (4, 1, 3) and out["conf_m"][0, 0, 0].shape == (3, 3)
    expected = cross_val_score(SVC(kernel="linear", C=0.025), act[:, 2].reshape(60, -1), labels,
                               cv=3)
    np.testing.assert_allclose(out["score"][2, 0], expected)


def test_labeled_inputs(planted):
    act, beh = planted
    layer = xr.DataArray(act, dims=("stimulus", "channel", "row", "column"))
    fc = xr.DataArray(act[:, :, 0, 0], dims=("stimulus", "unit"))
    tree = xr.DataTree.from_dict({"conv": xr.Dataset({"activation": layer}),
                                  "fc": xr.Dataset({"activation": fc})})
    out = DnnProbe(tree, "uv", "corr").probe(beh)
    assert set(out) == {"conv", "fc"}
    np.testing.assert_array_equal(out["conv"]["location"][0, 0], [3, 2, 1])
    assert out["fc"]["location"].shape == (1, 2, 3)
    single = DnnProbe(layer.rename("conv5"), "uv", "corr").probe(beh)
    assert list(single) == ["conv5"]


def test_probe_bad_inputs(planted):
    act, beh = planted
    with pytest.raises(DimensionError, match=r"beh_data: has shape \(50, 2\); expected "
                       r"\(n_stim, n_beh\) with n_stim = 60"):
        DnnProbe({"conv": act}, "uv", "glm").probe(beh[:50])
    with pytest.raises(InputError, match=r"beh_data\[:, 0\]: is continuous for the classifier "
                       r"LogisticRegression"):
        DnnProbe({"conv": act}, "uv", "lrc").probe(beh)
    with pytest.raises(InputError, match=r"estimator: 'corr' is univariate"):
        DnnProbe({"conv": act}, "mv", "corr")
    with pytest.raises(InputError, match=r"estimator: got 'forest'"):
        DnnProbe({"conv": act}, "uv", "forest")
    with pytest.raises(InputError, match=r"iter_axis: got 'unit'"):
        DnnProbe({"conv": act}, "uv", "corr").probe(beh, "unit")
    with pytest.raises(InputError, match=r"DnnProbe: has no mapper"):
        DnnProbe({"conv": act}).probe(beh)
    with pytest.raises(DimensionError, match=r"dnn_activ\['conv'\]: has shape \(60, 4, 9\)"):
        DnnProbe({"conv": act.reshape(60, 4, 9)})
