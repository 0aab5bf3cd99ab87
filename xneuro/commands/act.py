"""``xneuro act`` (extract activations to Zarr) and ``xneuro act-op`` (mask/pool/fe on a store)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

from xneuro.core.errors import input_error

__all__ = ["register"]


def _load_object(spec: str) -> Any:
    module_name, sep, attr = spec.partition(":")
    if not sep or not attr:
        raise input_error("--net", f"is {spec!r}", expected="'package.module:name' or "
                          "'path/to/file.py:name'", fix="e.g. --net xneuro.dnn.nets:small_alexnet")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise input_error("--net", f"{module_name!r} does not exist", expected="a .py file")
        loader = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise input_error("--net", f"module {module_name!r} could not be imported ({err})",
                              expected="an importable module") from err
    if not hasattr(module, attr):
        raise input_error("--net", f"{module_name!r} has no {attr!r}",
                          expected="the name of a network factory or object")
    return getattr(module, attr)


def _network(spec: str, kwargs_text: str | None) -> Any:
    from xneuro.dnn._torch import is_torch_module
    from xneuro.dnn.extract import _is_keras

    obj = _load_object(spec)
    if is_torch_module(obj) or _is_keras(obj):
        return obj
    kwargs = json.loads(kwargs_text) if kwargs_text else {}
    return obj(**kwargs)


def _images(path: str) -> Any:
    source = Path(path)
    if source.suffix == ".npy":
        import numpy as np

        return np.load(source, mmap_mode="r")
    if source.is_dir() and source.suffix == ".zarr":
        import xarray as xr

        from xneuro.core.store import open as open_store

        obj = open_store(source)
        if isinstance(obj, xr.Dataset):
            names = list(obj.data_vars)
            if len(names) != 1 and "image" not in names:
                raise input_error("--images", f"{path!r} holds variables {names}",
                                  expected="one variable, or one named 'image'")
            obj = obj["image" if "image" in names else names[0]]
        return obj
    return path


def _run_act(args: argparse.Namespace) -> int:
    import xneuro.dnn as dnn

    net = _network(args.net, args.net_kwargs)
    if args.list_layers:
        for name in dnn.layers(net):
            print(name)
        return 0
    if not args.images or not args.layers or not args.out:
        raise input_error("arguments", "--images, --layers and --out are required",
                          fix="see xneuro act --help")
    dmask = dnn.Mask.load(args.dmask) if args.dmask else None
    tree = dnn.extract(
        net, _images(args.images), args.layers, batch_size=args.batch_size, device=args.device,
        store=args.out, size=args.size, pool=args.pool, norm=args.norm, dmask=dmask,
        fresh=args.fresh, progress=not args.no_progress,
    )
    for name, node in tree.children.items():
        print(f"{name}: {dict(node['activation'].sizes)}")
    print(f"wrote {args.out}")
    return 0


def _indices(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError as err:
        raise input_error("indices", f"{text!r}", expected="comma-separated ints") from err


def _run_op(args: argparse.Namespace) -> int:
    import xneuro.dnn as dnn

    act = dnn.Activation.load(args.input)
    tree = act.tree
    if args.mask:
        tree = dnn.mask(tree, dmask=dnn.Mask.load(args.mask))
    if any(v is not None for v in (args.channels, args.rows, args.columns)) or args.layers:
        tree = dnn.mask(tree, _indices(args.channels), _indices(args.rows),
                        _indices(args.columns), layers=args.layers)
    if args.pool:
        tree = dnn.pool(tree, args.pool, norm=args.norm)
    if args.fe:
        method, n_text = args.fe
        n_feat: int | float = float(n_text) if "." in n_text else int(n_text)
        tree = dnn.fe(tree, method, n_feat, axis=args.axis, seed=args.seed)
    out = dnn.Activation(tree)
    out.save(args.output, mode="w" if args.overwrite else "w-")
    for name in out.layers:
        print(f"{name}: {dict(out.get(name).sizes)}")
    print(f"wrote {args.output}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``act`` and ``act-op`` subcommands."""
    act = subparsers.add_parser("act", help="extract DNN activations into a (resumable) Zarr store")
    act.add_argument("--net", required=True,
                     help="network factory or object: 'package.module:name' or 'file.py:name'")
    act.add_argument("--net-kwargs", help="JSON keyword arguments of the factory")
    act.add_argument("--images", help="image folder, .stim.csv, .npy (uint8) or .zarr")
    act.add_argument("--layers", nargs="+", help="module paths (see --list-layers)")
    act.add_argument("--out", help="Zarr store to write (re-running resumes it)")
    act.add_argument("--batch-size", type=int, default=64)
    act.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    act.add_argument("--size", type=int, help="resize images to SIZE x SIZE")
    act.add_argument("--pool", choices=["max", "mean", "median", "L1", "L2"],
                     help="pool each layer per batch")
    act.add_argument("--norm", choices=["vector", "matrix"], default="vector",
                     help="meaning of L1/L2 pooling (matrix = dnnbrain's)")
    act.add_argument("--dmask", help="dnnbrain .dmask.csv (1-based) applied per batch")
    act.add_argument("--fresh", action="store_true", help="discard an existing store")
    act.add_argument("--list-layers", action="store_true", help="print the layers and exit")
    act.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    act.set_defaults(func=_run_act)

    op = subparsers.add_parser(
        "act-op", help="mask, pool or extract features of stored activations (.zarr or .act.h5)"
    )
    op.add_argument("input", help="activation store (.zarr) or dnnbrain .act.h5")
    op.add_argument("output", help="output store (.zarr) or .act.h5")
    op.add_argument("--mask", help="dnnbrain .dmask.csv (1-based)")
    op.add_argument("--layers", nargs="+", help="keep only these layers")
    op.add_argument("--channels", help="0-based channels to keep, e.g. 0,5,9")
    op.add_argument("--rows", help="0-based rows to keep")
    op.add_argument("--columns", help="0-based columns to keep")
    op.add_argument("--pool", choices=["max", "mean", "median", "L1", "L2"])
    op.add_argument("--norm", choices=["vector", "matrix"], default="vector")
    op.add_argument("--fe", nargs=2, metavar=("METHOD", "N"),
                    help="pca|hist|psd and the number of features (pca: or a fraction)")
    op.add_argument("--axis", choices=["chn", "row_col"], help="fe axis (default: whole layer)")
    op.add_argument("--seed", type=int, default=0, help="seed of randomized PCA")
    op.add_argument("--overwrite", action="store_true", help="replace an existing Zarr output")
    op.set_defaults(func=_run_op)
