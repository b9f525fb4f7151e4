"""trafpipe calls trafilatura's internal steps: pin it to what bare_extraction returns.

If trafilatura is upgraded and these fail, re-derive trafpipe from the new
``trafilatura_sequence`` (or fall back to ``body.run_trafilatura``) before anything else.
"""

from __future__ import annotations

import json

import pytest
from lxml import etree

from crawler.extraction import parse
from crawler.extraction import trafpipe
from crawler.extraction.body import run_trafilatura

from ._data import FIXTURES, SHARED, aeb_page, traf_page

# Pages exercising the branches: ordinary articles, an Arabic page, a page where the
# precision run collapses (recall-mode baseline rescue), a thread-forum.
_PARA = "<p>Some words of a reply that go on for a while, as forum posts do, about engines.</p>"
FORUM = ("<html><head><script type='application/ld+json'>"
         + json.dumps({"@type": "DiscussionForumPosting", "headline": "Engines"})
         + "</script></head><body><h1>Engines</h1><div class='comments'>" + _PARA * 6
         + "</div><ul class='comment-list'><li>" + _PARA + "</li></ul></body></html>")
SHORT = "<html><body><div><span>Just a line of text that is not long at all.</span></div></body></html>"


def _pages() -> list[tuple[str, str, str]]:
    pages = [("forum", FORUM, "https://forum.example.org/t/engines"),
             ("short", SHORT, "https://example.org/short")]
    for path in sorted((FIXTURES / "pages").glob("*.html")):
        pages.append((path.name, path.read_text("utf-8"), f"https://example.org/{path.name}"))
    return pages


def _check(html: str, url: str) -> None:
    tree = parse(html)
    before = etree.tostring(tree)
    raw = trafpipe.prepare(tree)
    precise = trafpipe.precision_text(raw)
    recall = trafpipe.recall_text(raw)
    assert etree.tostring(tree) == before, "the caller's tree must stay untouched"
    assert precise == run_trafilatura(tree, url, mode="precision")
    assert recall == run_trafilatura(tree, url, mode="recall")


@pytest.mark.parametrize("name, html, url", _pages(), ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
def test_same_texts_as_bare_extraction(name, html, url):
    _check(html, url)


def test_forum_page_is_detected():
    assert trafpipe.prepare(parse(FORUM)).is_forum


def _real_pages(limit: int) -> list[tuple[str, str]]:
    path = SHARED / "eval" / "aeb-dev" / "ground-truth.json"
    if not path.exists():
        pytest.skip("shared data not available")
    urls = [item["url"] for item in json.loads(path.read_text("utf-8")).values()][:limit]
    return [aeb_page(u)[:2] for u in urls]


@pytest.mark.timeout(120)
def test_same_texts_on_real_pages():
    for html, url in _real_pages(25):
        _check(html, url)


@pytest.mark.timeout(60)
def test_same_texts_where_precision_collapses():
    # a traf-dev page whose precision run keeps almost nothing: the recall path decides
    html, url, _ = traf_page("security.googleblog.com.protection.html")
    _check(html, url)
    tree = parse(html)
    raw = trafpipe.prepare(tree)
    assert len(trafpipe.precision_text(raw)) < 100 < len(trafpipe.recall_text(raw))


def _article(extra: str = "") -> str:
    body = "".join(f"<p>Paragraph {i} of a reasonably long wire story about a summit between leaders.</p>"
                   for i in range(12))
    return f"<html><body><article><h1>Summit</h1>{body}</article>{extra}</body></html>"


def test_recall_run_skipped_when_precision_covers_the_page(monkeypatch):
    from crawler.extraction import body

    def no_recall(raw):
        raise AssertionError("recall run not needed here")

    monkeypatch.setattr(trafpipe, "recall_text", no_recall)
    lines = body.ensemble_lines(parse(_article()), "https://example.org/a")
    assert sum(ln.startswith("Paragraph") for ln in lines) == 12


def test_recall_run_when_page_is_mostly_other_text(monkeypatch):
    from crawler.extraction import body

    calls = []
    real = trafpipe.recall_text
    monkeypatch.setattr(trafpipe, "recall_text", lambda raw: calls.append(1) or real(raw))
    menu = "<nav>" + "".join(f"<a href='/s{i}'>Section number {i} of the site</a>" for i in range(200)) + "</nav>"
    body.ensemble_lines(parse(_article(menu)), "https://example.org/a")
    assert calls


def test_token_tables_cover_every_raw_prune():
    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH, REMOVE_COMMENTS_XPATH

    tables = {"layout": (trafpipe._LAYOUT_PRUNES, RAW_TREE_PRUNE_XPATH),
              "comments": (trafpipe._COMMENT_PRUNES, REMOVE_COMMENTS_AND_LISTS_XPATH),
              "cleaned comments": (trafpipe._CLEANED_COMMENT_PRUNES, REMOVE_COMMENTS_XPATH)}
    for name, (table, expressions) in tables.items():
        # a prune trafilatura adds must be listed here, or it would never run
        assert [xpath for xpath, _ in table] == list(expressions), name
        for xpath, tokens in table:
            assert all(token in xpath.path for token in tokens), (name, xpath.path)


@pytest.mark.parametrize("marker", ['class="infinite-scroll"', 'id="mvp-post-add-box"'])
def test_rare_containers_are_still_pruned_when_present(marker):
    html = _article(f"<div {marker}>" + "<p>Another appended story that should not be read.</p>" * 5 + "</div>")
    raw = trafpipe.prepare(parse(html))
    assert raw.prunes and "appended story" not in etree.tostring(raw.tree, encoding="unicode")


def test_pages_without_rare_markup_skip_the_raw_prunes():
    raw = trafpipe.prepare(parse(_article()))
    assert raw.prunes == raw.comment_prunes == raw.cleaned_prunes == []


@pytest.mark.timeout(120)
def test_page_length_counted_in_c_decides_recall_as_the_python_count_did():
    from crawler.extraction.body import _COMPLETE_SHARE, page_chars

    def python_count(tree):  # what the threshold was chosen on
        body = tree.find(".//body")
        return len(" ".join((body if body is not None else tree).text_content().split()))

    decided = 0
    for html, url in _real_pages(91):
        tree = parse(html)
        precise = len(trafpipe.precision_text(trafpipe.prepare(tree)))
        ours, before = page_chars(tree), python_count(tree)
        assert before <= ours <= before * 1.01  # only runs of other spaces (NBSP) count more
        assert (precise < _COMPLETE_SHARE * ours) == (precise < _COMPLETE_SHARE * before), url
        decided += precise < _COMPLETE_SHARE * ours
    assert 0 < decided < 91  # both kinds of page are among them
