import numpy as np
import pytest
import xarray as xr
from scipy import stats
from scipy.spatial.distance import pdist

import xneuro.rsa as rsa
from xneuro.core.errors import DimensionError


def _subjects(rng, n_sub=4, noise=1.0):
    true = rng.normal(size=(9, 12))
    rdms = [pdist(true + noise * rng.normal(size=true.shape)) for _ in range(n_sub)]
    return np.stack(rdms), xr.concat([rsa.as_rdm(r) for r in rdms], dim="subject")


def test_pearson_ceiling_by_hand(rng):
    raw, rdms = _subjects(rng)
    z = stats.zscore(raw, axis=1)
    upper = np.mean([stats.pearsonr(raw[s], z.mean(0)).statistic for s in range(4)])
    lower = np.mean([stats.pearsonr(raw[s], np.delete(z, s, 0).mean(0)).statistic
                     for s in range(4)])
    out = rsa.noise_ceiling(rdms, method="pearson")
    assert float(out.upper) == pytest.approx(upper, abs=1e-12)
    assert float(out.lower) == pytest.approx(lower, abs=1e-12)
    assert out["lower_each"].dims == ("subject",)


def test_spearman_ceiling_uses_ranks(rng):
    raw, rdms = _subjects(rng)
    ranks = stats.rankdata(raw, axis=1)
    lower = np.mean([stats.spearmanr(raw[s], np.delete(ranks, s, 0).mean(0)).statistic
                     for s in range(4)])
    out = rdms.rsa.noise_ceiling()
    assert float(out.lower) == pytest.approx(lower, abs=1e-12)
    assert float(out.lower) < float(out.upper) <= 1


def test_ceiling_rises_as_noise_falls(rng):
    noisy = rsa.noise_ceiling(_subjects(rng, noise=3.0)[1])
    clean = rsa.noise_ceiling(_subjects(rng, noise=0.2)[1])
    assert float(clean.lower) > float(noisy.lower) + 0.2


def test_ceiling_needs_two_subjects(rng):
    _, rdms = _subjects(rng, n_sub=1)
    with pytest.raises(DimensionError, match=r"has 1 entry along 'subject'; expected a dim"):
        rsa.noise_ceiling(rdms)
    with pytest.raises(DimensionError, match=r"has dims \('pair',\)"):
        rsa.noise_ceiling(rdms.isel(subject=0))
