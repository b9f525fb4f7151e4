"""Helpers for extraction tests: real pages come from ../shared (never copied into the repo)."""

from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "tests" / "fixtures"
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode(raw: bytes) -> str:
    """UTF-8, else the declared charset (as the crawler's response decoding does)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        m = _CHARSET.search(raw[:20000])
        return raw.decode(m.group(1).decode() if m else "cp1252", errors="replace")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@lru_cache(maxsize=None)
def _aeb_truth() -> dict:
    return json.loads(_need(SHARED / "eval" / "aeb-dev" / "ground-truth.json").read_text("utf-8"))


@lru_cache(maxsize=None)
def _traf_truth() -> dict:
    data = json.loads(_need(SHARED / "eval" / "traf-dev" / "evaldata.json").read_text("utf-8"))
    return {item["file"]: dict(item, url=url) for url, item in data.items()}


def aeb_page(url_part: str) -> tuple[str, str, dict]:
    """(html, url, truth) of the aeb-dev page whose URL contains ``url_part``."""
    for pid, item in _aeb_truth().items():
        if url_part in item["url"]:
            raw = gzip.decompress(_need(SHARED / "eval" / "aeb-dev" / "html" / f"{pid}.html.gz").read_bytes())
            return decode(raw), item["url"], item
    raise LookupError(url_part)


def traf_page(file_name: str) -> tuple[str, str, dict]:
    item = _traf_truth()[file_name]
    raw = gzip.decompress(_need(SHARED / "eval" / "traf-dev" / "pages" / f"{file_name}.gz").read_bytes())
    return decode(raw), item["url"], item


def fixture_page(name: str) -> str:
    return (FIXTURES / "pages" / name).read_text("utf-8")
