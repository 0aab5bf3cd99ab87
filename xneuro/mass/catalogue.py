"""Model discovery: ``list_models()`` and its ``to_table()``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelInfo", "list_models", "model_class"]


@dataclass(frozen=True)
class ModelInfo:
    """A catalogue record describing one public model.

    Attributes
    ----------
    name : str
        Catalogue name (the seed's ``*Step`` name), e.g. ``"HopfStep"``.
    category : str
        ``"phenomenological"``, ``"physiological"`` or ``"network"``.
    n_state_vars : int
        Number of state variables.
    use_case : str
        One-line typical use case.
    states : tuple of str
        The state names.
    time_unit : str
        Default time unit of the model's parameters.
    """

    name: str
    category: str
    n_state_vars: int
    use_case: str
    states: tuple[str, ...] = ()
    time_unit: str = "ms"

    @property
    def n_states(self) -> int:
        """Alias of :attr:`n_state_vars`."""
        return self.n_state_vars


def _models() -> tuple[type, ...]:
    from xneuro.mass.models import MODELS

    return MODELS


def list_models() -> list[ModelInfo]:
    """Return the catalogue of public neural-mass models.

    Returns
    -------
    list of ModelInfo
        One record per model; ``list_models.to_table()`` formats them.

    Examples
    --------
    >>> {m.name for m in list_models()} >= {"HopfStep", "JansenRitStep"}
    True
    >>> next(m for m in list_models() if m.name == "JansenRitStep").category
    'physiological'
    """
    return [
        ModelInfo(cls.name, cls.category, len(cls.states), cls.use_case, tuple(cls.states),
                  cls.default_time_unit)
        for cls in _models()
    ]


def _to_table() -> str:
    """The catalogue as an aligned text table (name, category, #states, use_case)."""
    rows = [("name", "category", "#states", "use_case")] + [
        (m.name, m.category, str(m.n_state_vars), m.use_case) for m in list_models()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 8)
    return "\n".join(lines)


list_models.to_table = _to_table  # type: ignore[attr-defined]


def model_class(name: str) -> type | None:
    """The model class with catalogue name (or class name) ``name``, or None."""
    for cls in _models():
        if name in (cls.name, cls.__name__):
            return cls
    return None
