"""Short pieces made from real pages: the article cut down inside its own template, and
section pages made of real headlines and teasers."""

from __future__ import annotations

import html as htmlmod
import re

import lxml.html

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def cut_to_brief(html: str, true_body: str, words: int = 60) -> tuple[str, str]:
    """(page, brief): the page with its article's paragraphs cut after the first ``words``
    words (everything else of the template stays), and the brief's true text."""
    tree = lxml.html.fromstring(html)
    body = _norm(true_body)
    kept: list[str] = []
    last = None
    for p in list(tree.iter("p")):
        text = _norm(p.text_content())
        if len(text.split()) < 6 or text not in body:
            continue
        if sum(len(k.split()) for k in kept) >= words:
            p.drop_tree()
            continue
        kept.append(text)
        last = p
    if last is not None:  # the rest of the article's container: lists, quotes, tables, tails
        for sib in list(last.itersiblings()):
            sib.drop_tree()
    # the article's other text (sub-headings, lists, quotes) goes too: a brief is one block
    for el in list(tree.xpath("//h2|//h3|//li|//blockquote")):
        text = _norm(el.text_content())
        if len(text.split()) >= 3 and text in body and not any(text in k for k in kept):
            el.drop_tree()
    return lxml.html.tostring(tree, encoding="unicode"), "\n".join(kept)


def section_page(stories: list[tuple[str, str]], *, og_type: str = "website", dated: bool = True) -> str:
    """A section page: each story a teaser of its own (headline link, first paragraph)."""
    teasers = "".join(
        f'<article class="teaser"><h2><a href="/news/{i}">{htmlmod.escape(title)}</a></h2>'
        f"<p>{htmlmod.escape(lead)}</p></article>"
        for i, (title, lead) in enumerate(stories))
    date = '<meta property="article:published_time" content="2024-05-16T08:00:00Z">' if dated else ""
    return (f'<!doctype html><html><head><title>News</title><meta property="og:type" content="{og_type}">{date}'
            f'</head><body><nav><a href="/">Home</a> <a href="/news/">News</a></nav><main><h1>News</h1>'
            f"{teasers}</main><footer><p>All rights reserved by the publisher of this news site.</p></footer>"
            "</body></html>")
