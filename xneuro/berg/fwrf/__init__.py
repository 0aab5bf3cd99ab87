"""``fmri-nsd-fwrf``: NSD feature-weighted receptive field models (23 ROIs, 8 subjects)."""

from xneuro.berg.registry import register_model

register_model("fmri-nsd-fwrf", "xneuro.berg.fwrf.model:FwrfModel")
