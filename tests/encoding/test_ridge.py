import numpy as np
import pytest
import xarray as xr
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_score

import xneuro  # noqa: F401  (registers the accessors)
from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding.ridge import fit_ridge, predict_ridge, score_ridge, voxel_noise_ceiling


def _problem(rng, n=150, p=12, v=30, noise=None, sample="stimulus"):
    x = rng.normal(size=(n, p))
    w = rng.normal(size=(p, v))
    noise = np.linspace(0.5, 8, v) if noise is None else noise
    y = x @ w + rng.normal(size=(n, v)) * noise + 3.0
    features = xr.DataArray(x, dims=(sample, "feature"))
    responses = xr.DataArray(y, dims=(sample, "voxel"),
                             coords={"voxel": np.arange(v) + 100, "roi": ("voxel", ["V1"] * v)})
    return features, responses, w


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fixed_alpha_equals_sklearn_ridge(rng, fit_intercept):
    features, responses, _ = _problem(rng)
    fit = fit_ridge(features, responses, alphas=[7.5], fit_intercept=fit_intercept, dtype="float64")
    ref = Ridge(alpha=7.5, fit_intercept=fit_intercept).fit(features.values, responses.values)
    np.testing.assert_allclose(fit["weight"].values, ref.coef_.T, atol=1e-10)
    np.testing.assert_allclose(fit["intercept"].values, np.broadcast_to(ref.intercept_, (30,)),
                               atol=1e-10)
    assert fit["weight"].dims == ("feature", "voxel")
    assert list(fit["roi"].values) == ["V1"] * 30 and fit["voxel"].values[0] == 100


def test_cv_scores_and_alpha_equal_sklearns_cross_validation(rng):
    features, responses, _ = _problem(rng)
    alphas = np.logspace(-1, 4, 6)
    fit = fit_ridge(features, responses, alphas=alphas, cv=5, dtype="float64")
    for v in (0, 14, 29):
        y = responses.values[:, v]
        means = [cross_val_score(Ridge(alpha=a), features.values, y, cv=5).mean() for a in alphas]
        assert float(fit["alpha"][v]) == alphas[int(np.argmax(means))]
        assert float(fit["cv_r2"][v]) == pytest.approx(max(means), abs=1e-10)


def test_cv_alpha_recovers_a_known_signal(rng):
    features, responses, w = _problem(rng, n=300, v=40, noise=np.r_[np.full(20, 0.3),
                                                                        np.full(20, 30.0)])
    fit = fit_ridge(features, responses, alphas=np.logspace(-2, 6, 17), dtype="float64")
    clean, noisy = fit.isel(voxel=slice(0, 20)), fit.isel(voxel=slice(20, 40))
    assert float(clean["alpha"].median()) < float(noisy["alpha"].median())
    assert float(clean["cv_r2"].min()) > 0.95
    r = [np.corrcoef(fit["weight"].values[:, v], w[:, v])[0, 1] for v in range(20)]
    assert min(r) > 0.999
    np.testing.assert_allclose(fit["intercept"].values[:20], 3.0, atol=0.1)


def test_shuffled_splitter_and_time_samples(rng):
    features, responses, _ = _problem(rng, sample="time")
    cv = KFold(4, shuffle=True, random_state=0)
    fit = fit_ridge(features, responses, alphas=[1.0, 100.0], cv=cv, dtype="float64")
    assert fit.attrs["sample_dim"] == "time" and fit.attrs["n_folds"] == 4
    y = responses.values[:, 3]
    a = float(fit["alpha"][3])
    expected = cross_val_score(Ridge(alpha=a), features.values, y, cv=cv).mean()
    assert float(fit["cv_r2"][3]) == pytest.approx(expected, abs=1e-10)


def test_dask_path_stays_lazy(rng, no_compute):
    features, responses, _ = _problem(rng)
    fit = fit_ridge(features.chunk(), responses.chunk({"voxel": 8}), alphas=np.logspace(-1, 3, 5))
    assert fit["weight"].chunks is not None and fit["cv_r2"].chunksizes["voxel"][0] == 8


def test_dask_path_equals_in_memory_path(rng, cluster_client):
    features, responses, _ = _problem(rng)
    kwargs = {"alphas": np.logspace(-1, 3, 5), "dtype": "float64"}
    eager = fit_ridge(features, responses, voxel_batch=7, **kwargs)
    lazy = fit_ridge(features, responses.chunk({"voxel": 8}), **kwargs)
    computed = cluster_client.compute(lazy).result()
    xr.testing.assert_allclose(computed.drop_attrs(), eager.drop_attrs())
    assert eager.attrs["xneuro_function"] == "xneuro.encoding.fit_ridge"


def test_float32_default_and_torch_engine(rng):
    features, responses, _ = _problem(rng)
    fit32 = fit_ridge(features, responses, alphas=[3.0])
    assert fit32["weight"].dtype == np.float32
    ref = Ridge(alpha=3.0).fit(features.values, responses.values)
    np.testing.assert_allclose(fit32["weight"].values, ref.coef_.T, atol=1e-4)
    pytest.importorskip("torch")
    fit_t = fit_ridge(features, responses, alphas=np.logspace(-1, 3, 5), dtype="float64",
                      engine="torch", device="cpu")
    fit_n = fit_ridge(features, responses, alphas=np.logspace(-1, 3, 5), dtype="float64")
    xr.testing.assert_allclose(fit_t.drop_attrs(), fit_n.drop_attrs())


@pytest.mark.gpu
@pytest.mark.parametrize("engine", ["torch", "cupy"])
def test_gpu_engines_match_numpy(rng, engine):
    module = pytest.importorskip(engine)
    has_cuda = (module.cuda.is_available() if engine == "torch"
                else module.cuda.runtime.getDeviceCount() > 0)
    if not has_cuda:
        pytest.skip("no CUDA device")
    features, responses, _ = _problem(rng)  # pragma: no cover - GPU hosts only
    kwargs = {"alphas": np.logspace(-1, 3, 5), "dtype": "float64"}  # pragma: no cover
    on_gpu = fit_ridge(features, responses, engine=engine, device="cuda", **kwargs)  # pragma: no cover
    xr.testing.assert_allclose(on_gpu.drop_attrs(),  # pragma: no cover
                               fit_ridge(features, responses, **kwargs).drop_attrs())


def test_banded_ridge_prefers_the_informative_band(rng):
    n, v = 200, 24
    good, junk = rng.normal(size=(n, 6)), rng.normal(size=(n, 30))
    y = good @ rng.normal(size=(6, v)) + rng.normal(size=(n, v)) * 2
    responses = xr.DataArray(y, dims=("stimulus", "voxel"))
    bands = {"good": xr.DataArray(good, dims=("stimulus", "f1")),
             "junk": xr.DataArray(junk, dims=("stimulus", "f2"))}
    fit = fit_ridge(bands, responses, alphas=np.logspace(-2, 5, 15), dtype="float64",
                    n_candidates=12)
    assert fit["band_scale"].dims == ("band", "voxel")
    assert list(fit["band_name"].values) == ["good", "junk"]
    assert list(fit["band"].values[[0, 6]]) == ["good", "junk"]
    assert float(fit["band_scale"].sel(band=0).median()) > 0.7
    np.testing.assert_allclose(fit["band_scale"].sum("band"), 1.0)
    plain = fit_ridge(xr.concat([bands["good"].rename(f1="feature"),
                                 bands["junk"].rename(f2="feature")], "feature"),
                      responses, alphas=np.logspace(-2, 5, 15), dtype="float64")
    assert float(fit["cv_r2"].mean()) > float(plain["cv_r2"].mean())
    lazy = fit_ridge(bands, responses.chunk({"voxel": 10}), alphas=np.logspace(-2, 5, 15),
                     dtype="float64", n_candidates=12)
    xr.testing.assert_allclose(lazy.compute().drop_attrs(), fit.drop_attrs())


def test_predict_and_score_held_out_with_noise_ceiling(rng):
    features, responses, _ = _problem(rng, n=200)
    train, test = slice(0, 150), slice(150, 200)
    fit = fit_ridge(features.isel(stimulus=train), responses.isel(stimulus=train),
                    alphas=np.logspace(-1, 3, 5), dtype="float64")
    pred = predict_ridge(fit, features.isel(stimulus=test))
    assert pred.dims == ("stimulus", "voxel") and pred.name == "prediction"
    ref = features.values[test] @ fit["weight"].values + fit["intercept"].values
    np.testing.assert_allclose(pred.values, ref, atol=1e-10)
    truth = responses.isel(stimulus=test)
    r2 = score_ridge(fit, features.isel(stimulus=test), truth)
    manual = 1 - ((truth.values - ref) ** 2).sum(0) / ((truth.values - truth.values.mean(0)) ** 2
                                                      ).sum(0)
    np.testing.assert_allclose(r2.values, manual, atol=1e-10)
    ceiling = xr.full_like(r2, 0.5)
    normalised = score_ridge(fit, features.isel(stimulus=test), truth, noise_ceiling=ceiling)
    assert normalised.name == "r2_normalised"
    np.testing.assert_allclose(normalised.values, manual / 0.5)
    r = score_ridge(fit, features.isel(stimulus=test), truth, metric="r")
    np.testing.assert_allclose(r.values[0], np.corrcoef(truth.values[:, 0], ref[:, 0])[0, 1])


def test_voxel_noise_ceiling_formula(rng):
    signal = rng.normal(size=(1, 400, 6)) * np.array([0.5, 1, 2, 1, 1, 1])
    data = xr.DataArray(signal + rng.normal(size=(4, 400, 6)), dims=("repeat", "stimulus", "voxel"))
    nc = voxel_noise_ceiling(data)
    v = data.values
    noise = v.var(0, ddof=1).mean(0)
    snr2 = np.clip(v.reshape(-1, 6).var(0, ddof=1) - noise, 0, None) / noise
    np.testing.assert_allclose(nc.values, snr2 / (snr2 + 1 / 4))
    expected = np.array([0.25, 1, 4, 1, 1, 1]) / (np.array([0.25, 1, 4, 1, 1, 1]) + 0.25)
    np.testing.assert_allclose(nc.values, expected, atol=0.06)
    single = voxel_noise_ceiling(data, n_average=1)
    assert np.all(single.values < nc.values)


@pytest.mark.parametrize("kwargs", [{"alphas": [2.0]}, {"alphas": np.logspace(-1, 3, 5), "cv": 3}])
def test_encode_accessor_agrees_with_fit_ridge(rng, kwargs):
    features, responses, _ = _problem(rng)
    via_accessor = responses.encode.fit_features(features, dtype="float64", **kwargs)
    via_function = fit_ridge(features, responses, dtype="float64", **kwargs)
    xr.testing.assert_identical(via_accessor.drop_attrs(), via_function.drop_attrs())


def test_ridge_bad_inputs(rng):
    features, responses, _ = _problem(rng)
    with pytest.raises(DimensionError, match=r"features and responses: have 100 and 150 entries"):
        fit_ridge(features.isel(stimulus=slice(100)), responses)
    labelled = responses.assign_coords(stimulus=np.arange(150)[::-1])
    with pytest.raises(InputError, match=r"label 'stimulus' differently or in another order"):
        fit_ridge(features.assign_coords(stimulus=np.arange(150)), labelled)
    with pytest.raises(DimensionError, match=r"share no sample dim"):
        fit_ridge(features.rename(stimulus="image"), responses)
    with pytest.raises(InputError, match=r"alphas: got \[-1\.0\]"):
        fit_ridge(features, responses, alphas=[-1.0])
    with pytest.raises(InputError, match=r"cv: is 200 for 150 samples"):
        fit_ridge(features, responses, cv=200)
    bad = responses.copy()
    bad.values[3, 4] = np.nan
    with pytest.raises(InputError, match=r"responses: holds NaN or inf"):
        fit_ridge(features, bad)
    with pytest.raises(DimensionError, match=r"responses: has dims \('stimulus',\)"):
        fit_ridge(features, responses.isel(voxel=0))
    fit = fit_ridge(features, responses, alphas=[1.0])
    with pytest.raises(DimensionError, match=r"features: have 5 features; expected 12"):
        predict_ridge(fit, features.isel(feature=slice(5)))
