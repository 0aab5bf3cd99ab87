"""Sample data embedded in xneuro: small, deterministic, labeled."""

from xneuro.datasets.images import CATEGORIES, sample_images
from xneuro.datasets.sample import bar_sweeps, sample_bold

__all__ = ["CATEGORIES", "bar_sweeps", "sample_bold", "sample_images"]
