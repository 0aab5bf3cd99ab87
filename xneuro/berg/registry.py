"""The registry of BERG encoding models: one subpackage of :mod:`xneuro.berg` per model.

A model package (``xneuro/berg/<name>/__init__.py``) calls :func:`register_model`
with its model ID and the dotted path of its
:class:`~xneuro.berg.base.EncodingModel` subclass; the class's module (which
imports torch) is imported only when the model is used. Packages are found by
name, so adding a model touches no other file. Code outside xneuro can register
its own models the same way.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import pkgutil
import threading
from typing import TYPE_CHECKING

from xneuro.berg.errors import ModelNotFoundError
from xneuro.core.errors import input_error

if TYPE_CHECKING:
    from xneuro.berg.base import EncodingModel

__all__ = ["list_models", "model_class", "register_model"]

logger = logging.getLogger("xneuro.berg.registry")

_REGISTRY: dict[str, str] = {}
_DISCOVERED = False
_LOCK = threading.Lock()


def register_model(model_id: str, target: str) -> None:
    """Register an encoding model under its BERG model ID.

    Parameters
    ----------
    model_id : str
        The BERG model ID, e.g. ``"fmri-nsd-fwrf"``.
    target : str
        ``"package.module:ClassName"`` of the :class:`~xneuro.berg.base.EncodingModel`
        subclass; imported on first use.
    """
    if not isinstance(model_id, str) or not model_id:
        raise input_error("model_id", f"is {model_id!r}", expected="a non-empty str")
    if not isinstance(target, str) or target.count(":") != 1:
        raise input_error(
            "target", f"is {target!r}", expected="'package.module:ClassName'",
            fix="pass the dotted module path and the class name separated by ':'",
        )
    _REGISTRY[model_id] = target


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    with _LOCK:
        if _DISCOVERED:
            return
        import xneuro.berg as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.ispkg and not module.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{module.name}")
        _DISCOVERED = True


def list_models() -> list[str]:
    """Return the registered model IDs, sorted.

    Returns
    -------
    list of str
        Model IDs accepted by :meth:`xneuro.berg.BERG.get_encoding_model`.
    """
    _discover()
    return sorted(_REGISTRY)


def model_class(model_id: str) -> type[EncodingModel]:
    """Return the class implementing ``model_id`` (imports its module).

    Parameters
    ----------
    model_id : str
        A registered model ID.

    Returns
    -------
    type
        The :class:`~xneuro.berg.base.EncodingModel` subclass.

    Raises
    ------
    ModelNotFoundError
        For an unknown model ID; the message lists the registered ones.
    """
    _discover()
    if not isinstance(model_id, str) or model_id not in _REGISTRY:
        close = difflib.get_close_matches(str(model_id), list(_REGISTRY), n=1)
        raise input_error(
            "model_id",
            f"{model_id!r} is not a registered BERG model",
            expected=f"one of {sorted(_REGISTRY)}",
            fix=f"did you mean {close[0]!r}?" if close else "call list_models() to see them",
            cls=ModelNotFoundError,
        )
    module_name, class_name = _REGISTRY[model_id].split(":")
    return getattr(importlib.import_module(module_name), class_name)
