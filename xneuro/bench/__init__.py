"""The benchmark harness shared by ``benchmarks/bench_*.py`` and ``xneuro bench``."""

from xneuro.bench.harness import (
    Result,
    Timing,
    add_arguments,
    finish,
    gemm_peak_flops,
    measure,
    peer_python,
    read_results,
    require_device,
)

__all__ = ["Result", "Timing", "add_arguments", "finish", "gemm_peak_flops", "measure", "peer_python",
           "read_results", "require_device"]
