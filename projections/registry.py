"""The read models Casetrail keeps, by name."""

from __future__ import annotations

from projections.alerts import AlertList
from projections.cases import CaseList
from projections.model import AnyModel


def default_models() -> list[AnyModel]:
    """Fresh instances of every read model (models keep caches: one set per runner)."""
    return [CaseList(), AlertList()]


def model_names() -> list[str]:
    return [model.name for model in default_models()]


def model_named(name: str) -> AnyModel:
    """A fresh instance of the model called `name`; KeyError if there is none."""
    for model in default_models():
        if model.name == name:
            return model
    raise KeyError(name)
