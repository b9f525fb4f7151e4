"""YAML for files people write: no aliases (no billion-laughs), no silently repeated keys, and their
mistakes named by key path (``sources[0].schedule``).

Shared by the config loader and the rules folder; raises yaml.YAMLError subclasses with a
position, like any other YAML mistake.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in this file", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def key_path(prefix: str, loc: tuple[Any, ...]) -> str:
    """``loc`` (keys and list positions) under ``prefix``: ``rules[1].notify[0]``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problems(err: ValidationError, prefix: str = "") -> dict[str, str]:
    """What a validation found wrong, by key path under ``prefix``, in file order; a value failing
    several checks is said by the first."""
    found: dict[str, str] = {}
    for error in err.errors():
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        found.setdefault(key_path(prefix, tuple(error["loc"])), message)
    return found
