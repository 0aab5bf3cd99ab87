"""Neuroimaging files in and out of labeled arrays, lazily.

Readers turn NIfTI, CIFTI-2, GIFTI and MGH/MGZ files into dask-backed
``(time, voxel)`` arrays (:func:`load_bold`, :func:`load_image`); writers put
any object over ``voxel`` back in its image space (:func:`to_nifti`,
:func:`to_cifti`, :func:`to_image`); BIDS events become paradigms
(:func:`load_events`, :func:`events_to_paradigm`); image stimuli become
aperture paradigms (:func:`load_apertures`); atlases become ROI masks and ROI
timecourses (:func:`atlas_to_masks`, :func:`extract_rois`), and dnnbrain's
``.roi.h5`` files are read and written (:func:`load_roi_h5`,
:func:`save_roi_h5`).

nibabel (the ``io`` extra) is imported only when a file is read or written.
"""

from xneuro.io.bold import clean_runs, load_bold
from xneuro.io.events import events_to_paradigm, load_events
from xneuro.io.read import load_image
from xneuro.io.rois import atlas_to_masks, extract_rois, load_roi_h5, save_roi_h5
from xneuro.io.stimuli import load_apertures
from xneuro.io.write import to_cifti, to_image, to_nifti

__all__ = [
    "atlas_to_masks",
    "clean_runs",
    "events_to_paradigm",
    "extract_rois",
    "load_apertures",
    "load_bold",
    "load_events",
    "load_image",
    "load_roi_h5",
    "save_roi_h5",
    "to_cifti",
    "to_image",
    "to_nifti",
]
