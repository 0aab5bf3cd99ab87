"""``xneuro bench``: run the benchmark scripts and write a JSON and markdown report."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from xneuro.bench.runner import run_from_args

    return run_from_args(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand."""
    from xneuro.bench.runner import add_runner_arguments

    parser = subparsers.add_parser(
        "bench", help="run the benchmarks (benchmarks/bench_*.py) and write a report",
        description="Run benchmarks/bench_*.py, each in its own process, and write "
                    "bench-results/bench-<date>.json and .md (peers side by side, scaling "
                    "efficiency for --workers 1,2).")
    add_runner_arguments(parser)
    parser.set_defaults(func=_run)
