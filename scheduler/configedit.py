"""Edits to the config file that keep what people wrote: comments, order, quoting, indentation.

    add_source(Path("mediawatch.yaml"), {"name": "dw", "feeds": ["https://rss.dw.com/rdf/rss-en-all"]})

A ruamel.yaml round trip (comments and layout kept) with the file's own indentation; the new
text is validated by the loader the daemon uses before it replaces the file (atomically, same
permissions), so a file that loaded before still loads after.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from scheduler.config import ConfigError, load

__all__ = ["add_source"]


def _round_trip(text: str) -> YAML:
    _, seq_indent, offset = load_yaml_guess_indent(text)
    yaml = YAML()  # round trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # long URLs stay on one line
    if seq_indent is not None and offset is not None:
        yaml.indent(mapping=max(2, seq_indent - offset), sequence=seq_indent, offset=offset)
    else:  # no block sequence to copy: the repository's own style, "  - name:"
        yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _commented(node: Any) -> Any:
    if isinstance(node, dict):
        out = CommentedMap()
        for key, value in node.items():
            out[key] = _commented(value)
        return out
    if isinstance(node, list):
        return CommentedSeq(_commented(v) for v in node)
    return node


def add_source(path: Path, source: dict[str, Any]) -> None:
    """Append ``source`` to the file's ``sources:`` list. Raises ConfigError (the file is then
    unchanged) when the result would not load."""
    text = path.read_text(encoding="utf-8")
    yaml = _round_trip(text)
    data = yaml.load(text)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError(path, "", "the top level must be a mapping")
    sources = data.get("sources")
    if not sources:  # absent, null or an empty "[]": a block list reads better than a flow one
        sources = data["sources"] = CommentedSeq()
    sources.append(_commented(source))
    out = io.StringIO()
    yaml.dump(data, out)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        tmp.write_text(out.getvalue(), encoding="utf-8")
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        try:
            load(tmp)  # the daemon's own validation, against the text about to be written
        except ConfigError as err:
            raise ConfigError(path, err.key, err.message, err.problems[1:]) from None
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
