"""``xneuro encode``: in-silico fMRI responses of a BERG model to images, into Zarr."""

from __future__ import annotations

import argparse
from typing import Any

FWRF = "fmri-nsd-fwrf"


def _subject(values: list[str]) -> Any:
    if values == ["all"]:
        return "all"
    try:
        subjects = [int(v) for v in values]
    except ValueError:
        from xneuro.core.errors import input_error

        raise input_error("--subject", f"got {values}", expected="ints or 'all'") from None
    return subjects[0] if len(subjects) == 1 else subjects


def _selection(args: argparse.Namespace) -> dict[str, Any] | None:
    selection: dict[str, Any] = {}
    if args.roi:
        single = args.model_id == FWRF and len(args.roi) == 1
        selection["roi"] = args.roi[0] if single else list(args.roi)
    if args.glasser_group:
        selection["glasser_group"] = list(args.glasser_group)
    return selection or None


def _run(args: argparse.Namespace) -> int:
    from xneuro.berg import BERG, list_models

    if args.list_models:
        for model_id in list_models():
            print(model_id)
        return 0
    if args.make_miniature:
        from xneuro.berg.testing import make_miniature_berg

        root = make_miniature_berg(args.make_miniature,
                                   fwrf_rois={1: ("V1", "V2", "hV4", "FFA-1")})
        print(f"wrote a miniature BERG directory (random weights) to {root}")
        return 0
    missing = [name for name, value in (("model_id", args.model_id), ("--berg-dir",
               args.berg_dir), ("--out", args.out)) if not value]
    if missing or not (args.images or args.sample_images):
        from xneuro.core.errors import input_error

        raise input_error("xneuro encode", f"needs {missing or ['--images or --sample-images']}",
                          fix="see xneuro encode --help")
    berg = BERG(args.berg_dir)
    model = berg.get_encoding_model(args.model_id, _subject(args.subject), _selection(args),
                                    device=args.device, precision=args.precision)
    if args.images:
        images: Any = args.images
    else:
        import xneuro

        images = xneuro.datasets.sample_images(args.sample_images, size=model.input_size)
    resp = berg.encode(model, images, show_progress=not args.no_progress,
                       batch_size=args.batch_size, store=args.out, fresh=args.fresh)
    print(f"{args.model_id}: responses {dict(resp.sizes)} written to {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``encode`` subcommand."""
    parser = subparsers.add_parser(
        "encode", help="in-silico fMRI: a BERG model's responses to images, into Zarr",
        description="Run a BERG encoding model (fmri-nsd-fwrf, "
        "fmri-mosaic-CNN8_multihead_subNSD_verticesAll) on images and write the labeled "
        "responses to a Zarr store, batch by batch; run it again to resume.",
    )
    parser.add_argument("model_id", nargs="?", help="BERG model ID (see --list-models)")
    parser.add_argument("--berg-dir", help="the downloaded BERG directory")
    parser.add_argument("--subject", nargs="+", default=["1"], help="subject(s), or 'all'")
    parser.add_argument("--roi", nargs="+", help="ROI(s): 'V1' (fwRF) or 'L_V1 R_V1' (MOSAIC)")
    parser.add_argument("--glasser-group", nargs="+", type=int, help="MOSAIC Glasser groups")
    parser.add_argument("--images", help="images: a .npy file or a Zarr store, uint8 "
                        "(stimulus, 3, H, W)")
    parser.add_argument("--sample-images", type=int, metavar="N",
                        help="use N sample images per category instead of --images")
    parser.add_argument("--out", help="output Zarr store (resumable)")
    parser.add_argument("--batch-size", type=int, help="images per batch (default: by memory)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--fresh", action="store_true", help="discard an existing --out first")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--list-models", action="store_true", help="list the model IDs")
    parser.add_argument("--make-miniature", metavar="DIR",
                        help="write a miniature BERG directory with random weights and exit")
    parser.set_defaults(func=_run)
