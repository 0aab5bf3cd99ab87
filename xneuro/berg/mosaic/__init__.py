"""``fmri-mosaic-CNN8_multihead_subNSD_verticesAll``: MOSAIC's whole-cortex CNN8 for NSD."""

from xneuro.berg.registry import register_model

register_model(
    "fmri-mosaic-CNN8_multihead_subNSD_verticesAll", "xneuro.berg.mosaic.model:MosaicModel"
)
