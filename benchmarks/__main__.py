"""``python -m benchmarks [names ...]``: the same as ``xneuro bench``, on this folder."""

from __future__ import annotations

import sys
from pathlib import Path

from xneuro.bench.runner import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m benchmarks", path=Path(__file__).resolve().parent))
