"""docs/CONFIGURATION.md documents every config key the models accept."""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import BaseModel

from scheduler.config import Config

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md"


def _model_of(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        out.append(key)
        sub = _model_of(field.annotation)
        if sub is not None:
            out.extend(keys(sub, f"{key}."))
    return out


def test_every_config_key_is_documented():
    text = DOC.read_text()
    missing = [k for k in keys(Config) if f"`{k}`" not in text]
    assert not missing, f"undocumented config keys: {missing}"
