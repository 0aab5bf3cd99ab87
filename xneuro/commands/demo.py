"""``xneuro demo``: every capability on the embedded sample data."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from xneuro.demo import load_stages, run_demo

    if args.list:
        for entry in load_stages().values():
            print(f"{entry.name:<14} {entry.title}")
        return 0
    timings = run_demo(args.out, args.stage or None, progress=not args.no_progress, report=print)
    print(
        f"demo done: {len(timings)} stage(s) in {sum(timings.values()):.1f} s; "
        f"outputs in {args.out}/"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser("demo", help="run every capability on the embedded sample data")
    parser.add_argument("--out", default="xneuro-demo", help="output folder (default: xneuro-demo)")
    parser.add_argument("--stage", action="append", help="run only this stage (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the stages and exit")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=_run)
