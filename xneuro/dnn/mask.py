"""``Mask``: the layers, channels, rows and columns of interest, and dnnbrain's ``.dmask.csv``.

A :class:`Mask` holds **0-based** indices, like the rest of xneuro. The
``.dmask.csv`` file format is dnnbrain's and is **1-based**: :meth:`Mask.load`
subtracts 1 and :meth:`Mask.save` adds it back, so a file written by dnnbrain
reads and writes back byte for byte.

File format: per layer a line ``layer=axes`` where ``axes`` is a comma list
from ``chn,row,col`` (empty when the whole layer is kept), then one line of
comma-separated 1-based indices per listed axis, in the listed order. The
writer lists axes in the order ``chn, row, col`` and ends every line with a
newline, e.g. ``conv5=chn,col\\n1,3\\n2\\nfc3=\\n``.
"""

from __future__ import annotations

import copy as _copy
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from xneuro.core.errors import input_error
from xneuro.dnn._files import check_suffix
from xneuro.dnn._hybrid import hybridmethod
from xneuro.dnn._labels import as_numpy_int_list

__all__ = ["Mask"]

SUFFIX = ".dmask.csv"
_AXES = ("chn", "row", "col")
_KEYWORDS = {"channels": "chn", "rows": "row", "columns": "col"}


def _as_indices(value: Any, keyword: str) -> str | list[int]:
    if isinstance(value, str):
        if value != "all":
            raise input_error(keyword, f"is {value!r}", expected="'all' or a list of ints")
        return "all"
    array = as_numpy_int_list(value)
    if array is None or array.size == 0:
        raise input_error(
            keyword, f"is {value!r}", expected="'all' or a non-empty list of 0-based ints",
            fix=f"pass e.g. {keyword}=[0, 5, 9]",
        )
    if np.any(array < 0):
        raise input_error(
            keyword, f"has negative indices {array[array < 0].tolist()}",
            expected="0-based indices >= 0",
        )
    return array.tolist()


class Mask:
    """Layers and, per layer, the channels, rows and columns of interest (0-based).

    Parameters
    ----------
    layer : str, optional
        A first layer to add.
    channels, rows, columns : "all" or list of int
        0-based indices of that layer to keep.

    Examples
    --------
    >>> m = Mask("features.3", channels=[0, 5, 9])
    >>> m.get("features.3")
    {'chn': [0, 5, 9], 'row': 'all', 'col': 'all'}
    """

    def __init__(
        self,
        layer: str | None = None,
        channels: str | Sequence[int] = "all",
        rows: str | Sequence[int] = "all",
        columns: str | Sequence[int] = "all",
    ) -> None:
        self._masks: dict[str, dict[str, str | list[int]]] = {}
        if layer is not None:
            self.set(layer, channels=channels, rows=rows, columns=columns)

    @property
    def layers(self) -> list[str]:
        """The layers in the mask, in insertion order."""
        return list(self._masks)

    def get(self, layer: str) -> dict[str, str | list[int]]:
        """Return the mask of ``layer``: ``{'chn': ..., 'row': ..., 'col': ...}`` (0-based).

        Parameters
        ----------
        layer : str
            Layer name.

        Returns
        -------
        dict
            Each value ``"all"`` or a list of 0-based indices.
        """
        if layer not in self._masks:
            raise input_error(
                "layer", f"{layer!r} is not in the mask", expected=f"one of {self.layers}"
            )
        return _copy.deepcopy(self._masks[layer])

    def set(self, layer: str, **kwargs: Any) -> None:
        """Set the mask of ``layer`` (a new layer starts as ``"all"``).

        Parameters
        ----------
        layer : str
            Layer name.
        **kwargs
            ``channels``, ``rows``, ``columns``: ``"all"`` or lists of 0-based ints.
        """
        if not isinstance(layer, str) or not layer or "=" in layer:
            raise input_error(
                "layer", f"is {layer!r}", expected="a non-empty layer name without '='"
            )
        unknown = sorted(set(kwargs) - set(_KEYWORDS))
        if unknown:
            raise input_error(
                "kwargs", f"has unknown keywords {unknown}",
                expected="only 'channels', 'rows' and 'columns'",
            )
        entry = self._masks.get(layer, dict.fromkeys(_AXES, "all"))
        for keyword, value in kwargs.items():
            entry[_KEYWORDS[keyword]] = _as_indices(value, keyword)
        self._masks[layer] = entry

    def delete(self, layer: str) -> None:
        """Remove ``layer`` from the mask."""
        self.get(layer)
        del self._masks[layer]

    def clear(self) -> None:
        """Empty the mask."""
        self._masks.clear()

    def copy(self) -> Mask:
        """Return a deep copy."""
        out = Mask()
        out._masks = _copy.deepcopy(self._masks)
        return out

    def __len__(self) -> int:
        return len(self._masks)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mask) and self._masks == other._masks

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Mask({self._masks!r})"

    # -- dnnbrain files --------------------------------------------------------

    @hybridmethod
    def load(self, fname: str | os.PathLike[str]) -> Mask:
        """Read a dnnbrain ``.dmask.csv`` (1-based) into this mask (0-based); replaces it.

        Works on the class too: ``Mask.load(fname)`` returns a new mask.

        Parameters
        ----------
        fname : str or PathLike
            File name ending in ``.dmask.csv``.

        Returns
        -------
        Mask
            ``self``.
        """
        path = check_suffix(fname, SUFFIX, 'mask', "roi")
        lines = path.read_text(encoding="utf-8").splitlines()
        masks: dict[str, dict[str, str | list[int]]] = {}
        for position, line in enumerate(lines):
            if "=" not in line:
                continue
            layer, _, axes_text = line.partition("=")
            axes = [axis for axis in axes_text.split(",") if axis]
            if any(axis not in _AXES for axis in axes) or len(set(axes)) != len(axes):
                raise input_error(
                    "fname", f"line {position + 1} ({line!r}) lists axes {axes}",
                    expected="distinct axes from 'chn', 'row', 'col'",
                )
            entry: dict[str, str | list[int]] = dict.fromkeys(_AXES, "all")
            for offset, axis in enumerate(axes, 1):
                where = position + offset
                try:
                    numbers = [int(text) for text in lines[where].split(",")]
                except (IndexError, ValueError) as err:
                    raise input_error(
                        "fname", f"line {where + 1} should hold the {axis} indices of "
                        f"layer {layer!r} ({err})", expected="comma-separated 1-based ints",
                    ) from err
                if min(numbers) < 1:
                    raise input_error(
                        "fname", f"line {where + 1} has index {min(numbers)} for {axis} of "
                        f"layer {layer!r}",
                        expected="1-based indices >= 1 (dnnbrain's .dmask.csv counts from 1)",
                        fix="add 1 to 0-based indices, or build the mask in Python with Mask()",
                    )
                entry[axis] = [number - 1 for number in numbers]
            masks[layer] = entry
        self._masks = masks
        return self

    def save(self, fname: str | os.PathLike[str]) -> None:
        """Write the mask as a dnnbrain ``.dmask.csv`` (1-based indices).

        Parameters
        ----------
        fname : str or PathLike
            File name ending in ``.dmask.csv``.
        """
        path = check_suffix(fname, SUFFIX, 'mask', "roi")
        text = []
        for layer, entry in self._masks.items():
            axes = [axis for axis in _AXES if entry[axis] != "all"]
            text.append(f"{layer}={','.join(axes)}\n")
            text.extend(",".join(str(i + 1) for i in entry[axis]) + "\n" for axis in axes)
        with open(path, "w", encoding="utf-8", newline="") as file:
            file.write("".join(text))
