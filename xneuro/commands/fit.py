"""``xneuro fit``: grid + gradient pRF fits of every voxel of a Zarr store, resumably.

Example::

    xneuro fit --model gaussian_prf_2d --data bold.zarr --paradigm stim.zarr --out prf.zarr \\
        [--scheduler tcp://10.0.0.1:8786]

Run it again after an interruption and it computes only the voxel chunks that
are missing from ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from xneuro.core.errors import input_error

__all__ = ["MODELS", "register"]

#: Model names accepted by ``--model`` -> class names in :mod:`xneuro.encoding`.
MODELS = {
    "gaussian_prf": "GaussianPRF",
    "von_mises_prf": "VonMisesPRF",
    "log_gaussian_prf": "LogGaussianPRF",
    "gaussian_prf_2d": "GaussianPRF2D",
    "difference_of_gaussians_prf_2d": "DifferenceOfGaussiansPRF2D",
}


def _variable(path: str, name: str | None, default: str, argument: str) -> Any:
    import xarray as xr

    from xneuro.core.store import open as open_store

    if not Path(path).exists():
        raise input_error(argument, f"{path!r} does not exist", expected="a Zarr store",
                          fix="write one with xneuro.save(...)")
    obj = open_store(path)
    if isinstance(obj, xr.DataArray):
        return obj
    if not isinstance(obj, xr.Dataset):
        raise input_error(argument, f"{path!r} holds a {type(obj).__name__}",
                          expected="a DataArray or a Dataset")
    choice = name or (default if default in obj.data_vars else None)
    if choice is None and len(obj.data_vars) == 1:
        choice = next(iter(obj.data_vars))
    if choice not in obj.data_vars:
        raise input_error(argument, f"{path!r} has variables {sorted(obj.data_vars)}",
                          expected=f"a variable {name or default!r}",
                          fix=f"name it with {argument}-var")
    da = obj[choice]
    if "tr" not in da.attrs and "tr" in obj.attrs:  # a Dataset's TR applies to its variables
        da = da.assign_attrs(tr=obj.attrs["tr"])
    return da


def _model(args: argparse.Namespace, data: Any, paradigm: Any) -> Any:
    import xneuro.encoding as encoding
    from xneuro.hrf import SPMHRFModel

    hrf = None
    if args.hrf == "spm":
        tr = args.tr or data.attrs.get("tr") or paradigm.attrs.get("tr")
        if tr is None:
            raise input_error("--tr", "was not given and the data have no 'tr' attribute",
                              expected="the repetition time in seconds", fix="pass --tr 1.5")
        hrf = SPMHRFModel(tr=float(tr))
    return getattr(encoding, MODELS[args.model])(paradigm=paradigm, hrf_model=hrf)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from xneuro.encoding.fit import fit_parameters

    data = _variable(args.data, args.data_var, "bold", "--data")
    paradigm = _variable(args.paradigm, args.paradigm_var, "paradigm", "--paradigm").load()
    model = _model(args, data, paradigm)
    client: Any = contextlib.nullcontext()
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    with client:
        result = fit_parameters(
            data, model, paradigm, max_n_iterations=args.max_iterations,
            learning_rate=args.learning_rate, noise_model=args.noise_model,
            unit_size=args.unit_size, store=args.out, fresh=args.fresh, dtype=args.dtype,
            progress=not args.no_progress)
    r2 = np.asarray(result["r2"].values)
    print(f"fitted {r2.size} voxels with {MODELS[args.model]}"
          f"{' + SPM HRF' if args.hrf == 'spm' else ''} into {args.out}: "
          f"median R2 {float(np.nanmedian(r2)):.3f}, parameters {list(model.parameter_labels)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit`` subcommand."""
    parser = subparsers.add_parser(
        "fit", help="fit a pRF model to every voxel of a Zarr store (grid + gradient, resumable)")
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="the pRF model")
    parser.add_argument("--data", required=True, help="Zarr store of (time, voxel) BOLD")
    parser.add_argument("--data-var", help="variable of --data (default: bold, or the only one)")
    parser.add_argument("--paradigm", required=True, help="Zarr store of the stimulus per frame")
    parser.add_argument("--paradigm-var", help="variable of --paradigm (default: paradigm)")
    parser.add_argument("--out", required=True, help="Zarr store for the fitted parameters")
    parser.add_argument("--scheduler", help="address of a dask.distributed scheduler")
    parser.add_argument("--hrf", choices=["spm", "none"], default="spm",
                        help="convolve with the SPM HRF (default) or not")
    parser.add_argument("--tr", type=float, help="TR in seconds (default: the data's 'tr')")
    parser.add_argument("--max-iterations", type=int, default=1000, help="gradient iterations")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="Adam's learning rate")
    parser.add_argument("--noise-model", choices=["ssq", "gaussian"], default="ssq")
    parser.add_argument("--unit-size", type=int, help="voxels per unit (default: data chunks)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default=None)
    parser.add_argument("--fresh", action="store_true", help="discard an existing --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run)
