"""The ``xneuro`` command; its subcommands live in :mod:`xneuro.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from xneuro.commands import command_modules
from xneuro.core.errors import XneuroError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xneuro`` command."""
    parser = argparse.ArgumentParser(
        prog="xneuro",
        description="Labeled, chunked, distributed neuroscience on xarray, Zarr and Dask.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules():
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xneuro`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except XneuroError as err:
        print(f"xneuro {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
