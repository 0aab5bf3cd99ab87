"""xneuro benchmarks: one script per capability, ``bench_<capability>.py``.

Each script prints our time and memory beside a peer's on the same work, and
how cost grows with problem size. Benchmarks are not tests.
"""
