"""The Glasser MMP 1.0 areas and the 22 groups MOSAIC uses (facts, no computation).

The 180 areas per hemisphere fall into 22 groups (Glasser et al. 2016,
supplementary table 1); groups 1-5 are visual cortex. MOSAIC's whole-cortex
model predicts the 57,051 grayordinates of groups 1-22 that are not NaN in any
of its datasets; ROIs are named ``"L_<area>"`` / ``"R_<area>"``.
"""

from __future__ import annotations

__all__ = [
    "AREA_GROUP",
    "GROUPS",
    "N_GRAYORDINATES",
    "N_MODEL_VERTICES",
    "ROI_NAMES",
    "group_of",
]

#: Size of the full HCP grayordinate space (fsLR 32k cortex + subcortex).
N_GRAYORDINATES = 91_282
#: Outputs of fmri-mosaic-CNN8_multihead_subNSD_verticesAll per subject.
N_MODEL_VERTICES = 57_051

#: Glasser group -> its areas, in the order MOSAIC's model card lists them.
GROUPS: dict[int, tuple[str, ...]] = {
    1: ("V1",),
    2: ("V2", "V3", "V4"),
    3: ("V6", "V3A", "V7", "IPS1", "V3B", "V6A"),
    4: ("V8", "FFC", "PIT", "VMV1", "VMV3", "VMV2", "VVC"),
    5: ("MST", "LO1", "LO2", "MT", "PH", "V4t", "FST", "V3CD", "LO3"),
    6: ("4", "3b", "1", "2", "3a"),
    7: ("5m", "5mv", "5L", "24dd", "24dv", "SCEF", "6ma", "6mp"),
    8: ("FEF", "PEF", "55b", "6d", "6v", "6r", "6a"),
    9: ("43", "OP4", "OP1", "OP2-3", "PFcm", "FOP1"),
    10: ("A1", "RI", "PBelt", "MBelt", "LBelt"),
    11: ("TA2", "STGa", "A5", "STSda", "STSdp", "STSvp", "A4", "STSva"),
    12: ("52", "PoI2", "FOP4", "MI", "Pir", "AVI", "AAIC", "FOP3", "FOP2", "PoI1", "Ig",
         "FOP5", "PI"),
    13: ("EC", "PreS", "H", "PeEc", "PHA1", "PHA3", "PHA2"),
    14: ("TGd", "TE1a", "TE1p", "TE2a", "TF", "TE2p", "PHT", "TGv", "TE1m"),
    15: ("PSL", "STV", "TPOJ1", "TPOJ2", "TPOJ3"),
    16: ("7Pm", "7AL", "7Am", "7PL", "7PC", "LIPv", "VIP", "MIP", "LIPd", "AIP"),
    17: ("PFt", "PGp", "IP2", "IP1", "IP0", "PFop", "PF", "PFm", "PGi", "PGs"),
    18: ("RSC", "POS2", "PCV", "7m", "POS1", "23d", "v23ab", "d23ab", "31pv", "23c", "ProS",
         "DVT", "31pd", "31a"),
    19: ("p24pr", "33pr", "a24pr", "p32pr", "a24", "d32", "8BM", "p32", "10r", "9m", "10v",
         "25", "s32", "a32pr", "p24"),
    20: ("47m", "10d", "a47r", "a10p", "10pp", "11l", "13l", "OFC", "47s", "pOFC", "p10p"),
    21: ("44", "45", "47l", "IFJa", "IFJp", "IFSp", "IFSa", "p47r"),
    22: ("SFL", "8Av", "8Ad", "8BL", "9p", "8C", "p9-46v", "46", "a9-46v", "9-46d", "9a",
         "i6-8", "s6-8"),
}

#: Area name (without hemisphere prefix) -> Glasser group.
AREA_GROUP: dict[str, int] = {area: g for g, areas in GROUPS.items() for area in areas}

#: The 360 hemisphere-specific ROI names, left hemisphere first, in group order.
ROI_NAMES: tuple[str, ...] = tuple(
    f"{hemi}_{area}" for hemi in ("L", "R") for areas in GROUPS.values() for area in areas
)


def group_of(roi: str) -> int:
    """Return the Glasser group (1-22) of a ``"L_<area>"`` or ``"R_<area>"`` ROI name.

    Parameters
    ----------
    roi : str
        ROI name with hemisphere prefix.

    Returns
    -------
    int
        The group number.
    """
    return AREA_GROUP[roi[2:]]
