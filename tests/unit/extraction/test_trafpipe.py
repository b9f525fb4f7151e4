"""trafpipe hands trafilatura a thinned copy of the page. ``thin`` must leave the texts equal to those
of an unpatched trafilatura given the raw HTML (computed in a separate process, ``_reference``);
the furniture step after it changes them on purpose (test_furniture.py, judged by ``bench.folds``)."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from crawler.extraction import parse
from crawler.extraction import trafpipe

from ._data import FIXTURES, SHARED, aeb_page, traf_page
from ._reference import reference

# Pages exercising the branches: ordinary articles, an Arabic page, a page where the
# precision run collapses (recall-mode baseline rescue), a thread-forum, a page whose
# paragraphs all sit in page furniture, a page of scripts, styles and widgets around the text.
_PARA = "<p>Some words of a reply that go on for a while, as forum posts do, about engines.</p>"
FORUM = ("<html><head><script type='application/ld+json'>"
         + json.dumps({"@type": "DiscussionForumPosting", "headline": "Engines"})
         + "</script></head><body><h1>Engines</h1><div class='comments'>" + _PARA * 6
         + "</div><ul class='comment-list'><li>" + _PARA + "</li></ul></body></html>")
SHORT = "<html><body><div><span>Just a line of text that is not long at all.</span></div></body></html>"
ALL_IN_ASIDE = "<html><body><aside>" + _PARA * 8 + "</aside><nav><a href='/'>Home</a></nav></body></html>"
WIDGETS = ("<html><head><title>T</title><style>p{}</style><script>var x = 1;</script></head><body>"
           "<nav><ul><li><a href='/a'>Section A</a></li></ul></nav><article><h1>Title</h1>"
           + "<p>Text of the story<script>ad()</script> goes on <button>Share</button>after the ad, as long"
             " stories do, paragraph after paragraph.</p>" * 8
           + "<form><input name='q'><select><option>x</option></select></form>"
           "<svg><text>icon</text></svg><iframe src='/x'></iframe></article>"
           "<aside><p>Most read: another story entirely.</p></aside><footer><p>© Site</p></footer></body></html>")


def _pages() -> list[tuple[str, str, str]]:
    pages = [("forum", FORUM, "https://forum.example.org/t/engines"),
             ("short", SHORT, "https://example.org/short"),
             ("all-in-aside", ALL_IN_ASIDE, "https://example.org/aside"),
             ("widgets", WIDGETS, "https://example.org/widgets")]
    for path in sorted((FIXTURES / "pages").glob("*.html")):
        pages.append((path.name, path.read_text("utf-8"), f"https://example.org/{path.name}"))
    return pages


def _thinned(html: str, url: str) -> trafpipe.RawPage:
    tree = parse(html)
    before = etree.tostring(tree)
    trafpipe.prepare(tree, url)
    assert etree.tostring(tree) == before, "the caller's tree must stay untouched"
    return trafpipe.RawPage(trafpipe.thin(tree), url)


def _ours(html: str, url: str) -> tuple[str, str]:
    raw = _thinned(html, url)
    return trafpipe.precision_text(raw), trafpipe.recall_text(raw)


def _check(pages: list[tuple[str, str]]) -> None:
    expected = reference([(mode, html, url) for html, url in pages for mode in ("precision", "recall")])
    for i, (html, url) in enumerate(pages):
        assert _ours(html, url) == tuple(expected[2 * i:2 * i + 2]), url


@pytest.mark.timeout(120)
def test_same_texts_as_bare_extraction():
    pages = _pages()
    _check([(html, url) for _, html, url in pages])


def _real_pages(limit: int) -> list[tuple[str, str]]:
    path = SHARED / "eval" / "aeb-dev" / "ground-truth.json"
    if not path.exists():
        pytest.skip("shared data not available")
    urls = [item["url"] for item in json.loads(path.read_text("utf-8")).values()][:limit]
    return [aeb_page(u)[:2] for u in urls]


@pytest.mark.timeout(300)
def test_same_texts_on_real_pages():
    _check(_real_pages(30))


@pytest.mark.timeout(60)
def test_same_texts_where_precision_collapses():
    # a traf-dev page whose precision run keeps almost nothing: the recall path decides
    html, url, _ = traf_page("security.googleblog.com.protection.html")
    _check([(html, url)])
    precise, recall = _ours(html, url)
    assert len(precise) < 100 < len(recall)


def test_thinning_drops_widgets_and_furniture_but_keeps_json_ld():
    thinned = trafpipe.thin(parse(WIDGETS))
    tags = {el.tag for el in thinned.iter()}
    assert not tags & {"script", "style", "button", "select", "input", "svg", "iframe", "nav", "aside", "footer"}
    text = " ".join(thinned.text_content().split())
    assert text.count("goes on after the ad,") == 8  # tails of dropped elements stay
    forum = trafpipe.thin(parse(FORUM))
    assert [s.get("type") for s in forum.iter("script")] == ["application/ld+json"]


def test_furniture_stays_when_it_holds_the_paragraphs():
    html = ALL_IN_ASIDE.replace("</aside>", "</aside><div class='comments'><p>Post a comment</p></div>")
    thinned = trafpipe.thin(parse(html))
    assert len(list(thinned.iter("p"))) == 9 and thinned.find(".//aside") is not None


def _article(extra: str = "", middle: str = "") -> str:
    paragraphs = [f"<p>Paragraph {i} of a reasonably long wire story about a summit between leaders.</p>"
                  for i in range(12)]
    paragraphs.insert(6, middle)
    return f"<html><body><article><h1>Summit</h1>{''.join(paragraphs)}</article>{extra}</body></html>"


def _menu(links: int) -> str:
    return "<div>" + "".join(f"<a href='/s{i}'>Section number {i} of the site</a>" for i in range(links)) + "</div>"


def _recall_calls(monkeypatch) -> list[str]:
    """The text of each page the recall run is handed."""
    calls: list[str] = []
    real = trafpipe.recall_text
    monkeypatch.setattr(trafpipe, "recall_text", lambda raw: calls.append(raw.tree.text_content()) or real(raw))
    return calls


def test_recall_run_skipped_when_precision_covers_the_page(monkeypatch):
    from crawler.extraction import body

    def no_recall(raw):
        raise AssertionError("recall run not needed here")

    monkeypatch.setattr(trafpipe, "recall_text", no_recall)
    lines = body.ensemble_lines(parse(_article()), "https://example.org/a")
    assert sum(ln.startswith("Paragraph") for ln in lines) == 12


def test_recall_run_skipped_when_precision_lines_leave_no_gap(monkeypatch):
    # mostly menu text, but the precision lines cover the article from its first line to its
    # last: the recall run could only add lines between them, and there is nothing there
    from crawler.extraction import body

    calls = _recall_calls(monkeypatch)
    lines = body.ensemble_lines(parse(_article(_menu(200))), "https://example.org/a")
    assert not calls
    assert sum(ln.startswith("Paragraph") for ln in lines) == 12


def test_recall_run_when_precision_leaves_out_text_between_its_lines(monkeypatch):
    from crawler.extraction import body

    calls = _recall_calls(monkeypatch)
    teaser = "<div class='teaser'><p>A teaser for another story that the editors placed mid-article.</p></div>"
    lines = body.ensemble_lines(parse(_article(_menu(200), teaser)), "https://example.org/a")
    assert lines.index("A teaser for another story that the editors placed mid-article.") == 7
    # it reads only the element that holds the precision lines: the menu beside it cannot be admitted
    [read] = calls
    assert "A teaser for another story" in read and "Paragraph 11 of" in read
    assert "Section number" not in read


def test_recall_run_when_precision_text_is_a_small_share_of_the_page(monkeypatch):
    # no gap, but so little of the page that the article may be elsewhere (a collapse)
    from crawler.extraction import body

    calls = _recall_calls(monkeypatch)
    body.ensemble_lines(parse(_article(_menu(2000))), "https://example.org/a")
    [read] = calls
    assert "Section number 1999 of the site" in read  # the whole page: the article may be elsewhere


_SPAN_PAGE = ("<html><body><div id='top'>Menu text of the site</div><main><div id='story'><h1>Summit</h1>"
              "<p>First words of the story come here.</p><div class='ad'>Advert</div>"
              "<p>Last words of the <b>story</b> and it ends here.</p></div>Tail text<aside>Sidebar</aside></main>"
              "<p>Loose words in the body.</p></body></html>")


def test_span_is_a_copy_of_the_smallest_element_holding_both_lines():
    tree = parse(_SPAN_PAGE)
    raw = trafpipe.RawPage(tree, "https://example.org/a")
    part = trafpipe.span(raw, "First words of the story come here.", "Last words of the story and it ends here.")
    assert [el.get("id") for el in part.tree.find("body")] == ["story"]
    assert part.tree.text_content() == (
        "SummitFirst words of the story come here.AdvertLast words of the story and it ends here.")
    assert part.url == raw.url
    assert tree.get_element_by_id("story").getparent().tag == "main"  # the caller's tree is untouched


def test_span_none_when_the_lines_meet_only_in_the_body_or_are_not_found():
    raw = trafpipe.RawPage(parse(_SPAN_PAGE), "")
    assert trafpipe.span(raw, "Menu text of the site", "Last words of the story and it ends here.") is None
    assert trafpipe.span(raw, "First words of the story", "Loose words in the body.") is None
    assert trafpipe.span(raw, "Words found nowhere on the page", "Last words of the story and it ends here.") is None


def test_a_line_trafilatura_reformats_counts_as_a_gap():
    from crawler.extraction import body

    thinned = trafpipe.thin(parse(_article()))
    lines = [f"Paragraph {i} of a reasonably long wire story about a summit between leaders." for i in range(12)]
    page = body._page_text(thinned)
    assert not body._leaves_gaps(lines, page)
    assert body._leaves_gaps([*lines[:5], "| a table | row |", *lines[5:]], page)
    assert body._leaves_gaps(lines[:1], page)


# A traf-dev page whose precision and recall runs both keep one short teaser of a long page:
# only trafilatura's readability/justext comparison finds the article.
_BOTH_COLLAPSE = "laviedesidees.fr.evaluation.html"


@pytest.mark.timeout(60)
def test_rescue_text_is_bare_extractions_slow_default_run():
    html, url, _ = traf_page(_BOTH_COLLAPSE)
    assert trafpipe.rescue_text(_thinned(html, url)) == reference([("rescue", html, url)])[0]


@pytest.mark.timeout(60)
def test_rescue_when_both_runs_keep_only_a_fragment():
    from crawler.extraction import body

    html, url, truth = traf_page(_BOTH_COLLAPSE)
    precise, recall = _ours(html, url)
    assert len(precise) < 500 and len(recall) < 500
    text = " ".join(" ".join(body.ensemble_lines(parse(html), url)).split())
    assert all(" ".join(w.split()) in text for w in truth["with"])


# A traf-dev page whose precision run keeps nothing and whose recall run keeps only the site's menu.
_ONLY_THE_MENU = "rnz.de.witzel.html"


@pytest.mark.timeout(60)
def test_rescue_when_the_precision_run_keeps_nothing_and_the_recall_run_the_menu():
    from crawler.extraction import body

    html, url, truth = traf_page(_ONLY_THE_MENU)
    raw = trafpipe.prepare(parse(html), url)  # as the ensemble reads it: named furniture dropped too
    recall = trafpipe.recall_text(raw)
    assert trafpipe.precision_text(raw) == "" and recall.startswith("Startseite") and len(recall) < 500
    text = " ".join(" ".join(body.ensemble_lines(parse(html), url)).split())
    assert all(" ".join(w.split()) in text for w in truth["with"])
    assert "Startseite" not in text


def test_no_rescue_when_the_recall_run_finds_the_article(monkeypatch):
    from crawler.extraction import body

    def no_rescue(raw):
        raise AssertionError("the recall run found the article")

    monkeypatch.setattr(trafpipe, "rescue_text", no_rescue)
    teaser = "<div class='teaser'><p>A teaser for another story that the editors placed mid-article.</p></div>"
    lines = body.ensemble_lines(parse(_article(_menu(200), teaser)), "https://example.org/a")
    assert sum(ln.startswith("Paragraph") for ln in lines) == 12
