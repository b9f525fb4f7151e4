"""Parse once, look up many times: the parsed tree plus the indexes every field reads."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extraction.normalize import clean_inline

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "reviewnewsarticle", "backgroundnewsarticle", "blogposting", "socialmediaposting",
    "liveblogposting", "scholarlyarticle", "techarticle", "report", "posting", "webpage",
})
_WITH_ITEMPROP = XPath("descendant::*[@itemprop]")
# Control characters that some CMSs leave raw inside JSON-LD strings and json rejects.
_JSON_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Half of a "\ud83d\ude00" pair (a string cut to a length in UTF-16 units, mid-emoji): json reads it as a
# lone surrogate, which no text can hold (UTF-8 refuses it). It becomes U+FFFD, as lxml makes "&#xd83d;".
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _walk_jsonld(node: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk_jsonld(item, out)
    elif isinstance(node, dict):
        out.append(node)
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if isinstance(node.get(key), (list, dict)):
                _walk_jsonld(node[key], out)


def _without_surrogates(node: Any) -> Any:
    if isinstance(node, str):
        return _LONE_SURROGATE.sub("\ufffd", node)
    if isinstance(node, list):
        return [_without_surrogates(item) for item in node]
    if isinstance(node, dict):
        return {_without_surrogates(key): _without_surrogates(value) for key, value in node.items()}
    return node


def jsonld_types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).casefold() for k in kinds}


@dataclass
class Page:
    tree: HtmlElement
    url: str
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def meta(self) -> dict[str, list[str]]:
        """<meta> content by lower-cased name/property/itemprop, in document order."""
        out: dict[str, list[str]] = {}
        for el in self.tree.iter("meta"):
            content = el.get("content")
            if content is None or not content.strip():
                continue
            for attr in ("property", "name", "itemprop", "http-equiv"):
                key = el.get(attr)
                if key:
                    out.setdefault(key.strip().casefold(), []).append(content.strip())
        return out

    def meta_first(self, *names: str) -> str:
        for name in names:
            values = self.meta.get(name)
            if values:
                return clean_inline(values[0])
        return ""

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        for script in self.tree.iter("script"):
            if (script.get("type") or "").strip().casefold() != "application/ld+json":
                continue
            raw = (script.text or "").strip()
            if not raw:
                continue
            try:
                data = json.loads(_JSON_CTRL.sub(" ", raw))
            except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth: not metadata
                continue
            if _SURROGATE_ESCAPE.search(raw):  # paired escapes are read as one character, lone ones are not
                data = _without_surrogates(data)
            _walk_jsonld(data, objects)
        return objects

    @cached_property
    def jsonld_article(self) -> dict[str, Any]:
        """The most article-like JSON-LD object; a bare WebPage only when nothing better exists."""
        best: dict[str, Any] = {}
        best_rank = 0
        for obj in self.jsonld:
            kinds = jsonld_types(obj)
            if not kinds & ARTICLE_TYPES:
                continue
            rank = 1 if kinds <= {"webpage"} else 2 + bool(obj.get("headline")) + bool(obj.get("datePublished"))
            if rank > best_rank:
                best, best_rank = obj, rank
        return best

    @cached_property
    def itemprops(self) -> dict[str, list[HtmlElement]]:
        """Elements by their itemprop value as written, in document order: one scan of the tree."""
        out: dict[str, list[HtmlElement]] = {}
        for el in _WITH_ITEMPROP(self.tree):
            out.setdefault(el.get("itemprop"), []).append(el)
        return out

    @cached_property
    def h1s(self) -> list[str]:
        return [t for t in (clean_inline(h.text_content()) for h in self.tree.iter("h1")) if t]

    @cached_property
    def html_title(self) -> str:
        el = self.tree.find(".//title")
        return clean_inline(el.text_content()) if el is not None else ""
