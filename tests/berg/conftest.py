"""A miniature BERG directory (written once per session) and models loaded from it."""

from __future__ import annotations

import numpy as np
import pytest

import xneuro
from xneuro.berg import BERG
from xneuro.berg.fwrf.layout import ROIS

MOSAIC = "fmri-mosaic-CNN8_multihead_subNSD_verticesAll"
FWRF = "fmri-nsd-fwrf"

torch = pytest.importorskip("torch")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op thread: the models here are tiny, and on a shared 2-core machine
    OpenMP's spin-waiting threads make wall times erratic. Results do not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def berg_dir(tmp_path_factory):
    """Subject 1: all 23 fwRF ROIs at the card's widths; subject 2: V1 and lateral;
    subject 3: V1 with BERG's full backbone widths; MOSAIC weights (8 heads, 57,051
    vertices each) and metadata of subjects 1 and 2 (about 40 MB in all)."""
    from xneuro.berg.testing import make_miniature_berg

    return make_miniature_berg(
        tmp_path_factory.mktemp("berg") / "berg",
        fwrf_rois={1: ROIS, 2: ("V1", "lateral")},
        fwrf_full_width=[(3, "V1")],
        mosaic_subjects=(1, 2),
    )


@pytest.fixture(scope="session")
def berg(berg_dir):
    return BERG(berg_dir)


@pytest.fixture(scope="session")
def images():
    """Eight labeled uint8 sample images of 227 x 227 pixels."""
    return xneuro.datasets.sample_images(2, size=227, seed=3)


@pytest.fixture(scope="session")
def fwrf_v1(berg):
    return berg.get_encoding_model(FWRF, subject=1, selection={"roi": "V1"}, device="cpu")


@pytest.fixture(scope="session")
def mosaic_full(berg):
    """Subjects 1 and 2, all 57,051 vertices (about 300 MB of readouts)."""
    model = berg.get_encoding_model(MOSAIC, subject=[1, 2], device="cpu")
    yield model
    model.release()


@pytest.fixture(scope="session")
def mosaic_full_resp(berg, mosaic_full, images):
    return berg.encode(mosaic_full, images)


@pytest.fixture(autouse=True, scope="module")
def _free_worker_caches():
    """Networks loaded by in-process Dask workers are dropped after each module."""
    yield
    from xneuro.core.parallel import clear_worker_cache

    clear_worker_cache()


@pytest.fixture(scope="session")
def rel_err():
    """max |a - b| / max |a|, ignoring NaNs."""

    def relative_error(a, b) -> float:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.nanmax(np.abs(a - b)) / np.nanmax(np.abs(a)))

    return relative_error
