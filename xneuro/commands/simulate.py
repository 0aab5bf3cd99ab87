"""``xneuro simulate``: a neural-mass model on a connectome, optionally swept, into Zarr."""

from __future__ import annotations

import argparse
import os

ALIASES = {"mpr": "MontbrioPazoRoxin", "rww": "ReducedWongWang", "wc": "WilsonCowan",
           "jr": "JansenRit", "fhn": "FitzHughNagumo", "sl": "StuartLandau"}


def _values(text: str):
    """``start:stop:num`` (inclusive linspace) or ``v1,v2,...``."""
    import numpy as np

    from xneuro.core.errors import input_error

    try:
        if ":" in text:
            start, stop, num = text.split(":")
            return np.linspace(float(start), float(stop), int(num))
        return np.asarray([float(v) for v in text.split(",")])
    except ValueError as err:
        raise input_error("--sweep/--param", f"value {text!r} is not understood",
                          expected="'start:stop:num' or 'v1,v2,...'") from err


def _pairs(items: list[str] | None, argument: str) -> dict[str, str]:
    from xneuro.core.errors import input_error

    out = {}
    for item in items or []:
        if "=" not in item:
            raise input_error(argument, f"got {item!r}", expected="NAME=VALUES")
        name, value = item.split("=", 1)
        out[name.strip()] = value.strip()
    return out


def _model_class(name: str):
    from xneuro import mass
    from xneuro.core.errors import input_error

    wanted = ALIASES.get(name.lower(), name).lower().replace("_", "").replace("-", "")
    for cls in mass.models.MODELS:
        if wanted in (cls.__name__.lower(), cls.name.lower(), cls.name.lower()[:-4]):
            return cls
    names = sorted({c.__name__.lower() for c in mass.models.MODELS} | set(ALIASES))
    raise input_error("--model", f"is {name!r}", expected=f"one of {names}")


def _run(args: argparse.Namespace) -> int:
    import contextlib

    import numpy as np

    from xneuro import mass
    from xneuro.core.store import open as open_store

    cls = _model_class(args.model)
    params = {k: float(v) for k, v in _pairs(args.param, "--param").items()}
    from xneuro.mass.connectome import DATASETS

    if args.connectome in DATASETS:
        conn = mass.connectome(args.connectome)
    else:
        conn = open_store(args.connectome)
    if args.omega_from_bold and "omega" in conn:
        params["omega"] = conn["omega"]
    model = cls(time_unit=args.time_unit, **params)
    classes = {"diffusive": mass.Diffusive, "additive": mass.Additive, "sine": mass.Sine}
    coupling = model.default_coupling()
    if args.coupling != "default":
        coupling = classes[args.coupling]()
    if args.k is not None:
        coupling = type(coupling)(**{**coupling.params, "k": args.k})
    noise = None
    if args.noise_sigma:
        noise = (mass.OUNoise if args.noise == "ou" else mass.GaussianNoise)(sigma=args.noise_sigma)
    sweep = {k: _values(v) for k, v in _pairs(args.sweep, "--sweep").items()} or None
    cluster = contextlib.nullcontext()
    if args.workers:
        import dask

        from xneuro.core.parallel import cluster as make_cluster

        client = make_cluster(n_workers=args.workers, threads_per_worker=1)
        cluster = contextlib.ExitStack()
        cluster.enter_context(client)
        cluster.enter_context(dask.config.set(scheduler=client))
    with cluster:
        result = mass.simulate(
            conn, model, args.duration, args.dt, coupling=coupling, delays=args.delays,
            speed=args.speed, noise=noise, integrator=args.integrator, seed=args.seed,
            sample_every=args.sample_every, transient=args.transient, sweep=sweep,
            store=os.fspath(args.out), fresh=args.fresh,
            points_per_chunk=args.points_per_chunk, progress=not args.no_progress,
        )
    sizes = ", ".join(f"{d}={s}" for d, s in result.sizes.items())
    print(f"simulated {cls.name} on {args.connectome}: {sizes}; stored in {args.out}")
    if sweep:
        print("sweep: " + "; ".join(f"{k} {np.min(v):g}..{np.max(v):g} ({len(v)})"
                                    for k, v in sweep.items()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate", help="simulate a neural-mass model on a connectome (sweeps into Zarr)",
        description="Example: xneuro simulate --model hopf --connectome hcp "
                    "--sweep k=0:2:64 --out sweep.zarr",
    )
    p.add_argument("--model", default="hopf", help="hopf, jansenrit (jr), wilsoncowan (wc), "
                   "fitzhughnagumo (fhn), kuramoto, mpr, rww, stuartlandau, linear")
    p.add_argument("--connectome", default="hcp",
                   help="hcp, gw, tvb76, ... or the path of a Zarr store with 'weights'")
    p.add_argument("--out", required=True, help="output Zarr store (resumable)")
    p.add_argument("--sweep", action="append", metavar="NAME=VALUES",
                   help="swept parameter: k=0:2:64 (linspace) or a=-0.05,0 (repeatable)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="model parameter")
    p.add_argument("--time-unit", choices=["ms", "s"], default=None,
                   help="time unit of the model's parameters (default: the model's)")
    p.add_argument("--omega-from-bold", action="store_true",
                   help="Hopf: omega from the connectome's empirical BOLD (use --time-unit s)")
    p.add_argument("--coupling", choices=["default", "diffusive", "additive", "sine"],
                   default="default")
    p.add_argument("--k", type=float, default=None, help="coupling gain")
    p.add_argument("--delays", action="store_true", help="conduction delays from tract lengths")
    p.add_argument("--speed", type=float, default=None, help="conduction speed (m/s)")
    p.add_argument("--noise", choices=["ou", "gaussian"], default="ou")
    p.add_argument("--noise-sigma", type=float, default=0.0)
    p.add_argument("--integrator", choices=["euler", "heun", "rk4"], default="euler")
    p.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--dt", type=float, default=1e-4, help="seconds (default 1e-4)")
    p.add_argument("--sample-every", type=float, default=1e-3, help="seconds (default 1e-3)")
    p.add_argument("--transient", type=float, default=0.0, help="seconds dropped first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--points-per-chunk", type=int, default=64)
    p.add_argument("--workers", type=int, default=0,
                   help="run the chunks on a local dask cluster with this many workers")
    p.add_argument("--fresh", action="store_true", help="discard an existing store")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_run)
