"""Sample data embedded in xneuro: small, deterministic, labeled."""

from xneuro.datasets.sample import sample_bold

__all__ = ["sample_bold"]
