"""``xneuro info``: versions, engines found and devices."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from xneuro.core.info import show_versions

    show_versions(devices=not args.no_devices)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser("info", help="versions, engines found and devices")
    parser.add_argument(
        "--no-devices", action="store_true", help="do not import engines to list devices"
    )
    parser.set_defaults(func=_run)
