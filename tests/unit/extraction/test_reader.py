"""Our own precision run (reader.py): which pages it takes, the lines it reads, and that the body
extraction uses it on those pages and trafilatura on the others."""

from __future__ import annotations

from lxml.html import HtmlElement

from crawler.extraction import parse, trafpipe
from crawler.extraction.body import ensemble_lines
from crawler.extraction.reader import article_container, article_lines

URL = "https://example.org/news/summit"
# Six paragraphs of 107 characters: 642 in all, too little text for the gate on their own.
_PARAGRAPHS = [f"Paragraph {i} of a wire story about a summit between two leaders, who met for talks"
               f" in the capital on Monday." for i in range(6)]
_STORY = "".join(f"<p>{p}</p>" for p in _PARAGRAPHS)
# Twelve of them: twice the page text the gate asks for.
_LONG = "".join(f"<p>{p}</p>" for p in _PARAGRAPHS * 2)


def _page(story: str = _LONG, before: str = "", after: str = "") -> str:
    return (f"<html><body><header><a href='/'>Home</a></header><main>{before}"
            f"<div id='story'>{story}</div>{after}</main>"
            f"<footer><p>Copyright Example Media, all rights reserved.</p></footer></body></html>")


def _body(html: str) -> HtmlElement:
    return parse(html).find("body")


def _story(html: str) -> HtmlElement:
    return parse(html).get_element_by_id("story")


# --- the gate -----------------------------------------------------------------------------------

def test_gate_takes_the_element_whose_paragraphs_hold_the_article():
    body = _body(_page(after="<div class='comments'><p>A reader's short comment on the summit.</p></div>"))
    container = article_container(body)
    assert container is not None and container.get("id") == "story"


def test_gate_refuses_a_page_with_too_little_paragraph_text():
    assert article_container(_body(_page(_STORY))) is None  # 642 characters of paragraphs


def test_gate_refuses_a_container_with_too_few_paragraphs():
    story = "".join(f"<p>{p} {p} {p}</p>" for p in _PARAGRAPHS[:4])  # 4 paragraphs, 1,292 characters
    assert article_container(_body(_page(story))) is None


def test_gate_refuses_a_link_dense_container():
    # 38 of 146 characters of each paragraph linked (26 %): a list of teasers
    story = "".join(f"<p>{p} <a href='/more'>Read the full story of the summit here</a></p>" for p in _PARAGRAPHS * 2)
    assert article_container(_body(_page(story))) is None


def test_gate_takes_a_story_that_cites_its_sources_in_links():
    # "talks" and "Monday" linked in every paragraph: 11 of 107 characters (10 %)
    cited = [p.replace("talks", "<a href='/t'>talks</a>").replace("Monday", "<a href='/m'>Monday</a>")
             for p in _PARAGRAPHS * 2]
    container = article_container(_body(_page("".join(f"<p>{p}</p>" for p in cited))))
    assert container is not None and container.get("id") == "story"


def test_gate_refuses_a_page_with_prose_before_the_container():
    before = f"<div class='top'><p>{_PARAGRAPHS[0]}</p></div>"
    assert article_container(_body(_page(before=before))) is None


def test_gate_takes_a_page_whose_paragraph_before_the_container_is_a_link():
    before = f"<div class='top'><p><a href='/other'>{_PARAGRAPHS[0]}</a></p></div>"
    assert article_container(_body(_page(before=before))).get("id") == "story"


def test_gate_refuses_paragraphs_spread_over_several_parents():
    story = "".join(f"<div class='part'>{''.join(f'<p>{p}</p>' for p in _PARAGRAPHS)}</div>" for _ in range(2))
    assert article_container(_body(_page(story))) is None


def test_gate_refuses_paragraphs_straight_in_the_body():
    assert article_container(_body(f"<html><body><h1>Summit</h1>{_LONG}</body></html>")) is None


# --- the walk -----------------------------------------------------------------------------------

def test_walk_reads_headings_paragraphs_split_at_br_list_items_and_table_rows():
    story = ("<h2>The talks</h2><p>First line of an address,<br>second line of it.</p>"
             "<ul><li>One point agreed on.</li><li>Another point agreed on.</li></ul>"
             "<table><tr><th>Country</th><th>Votes</th></tr><tr><td>Norway</td><td>12</td></tr>"
             "<tr><td></td></tr></table><blockquote>We will meet again, she said.</blockquote>")
    assert article_lines(_story(_page(story))) == [
        "The talks", "First line of an address,", "second line of it.",
        "One point agreed on.", "Another point agreed on.",
        "Country | Votes", "Norway | 12", "We will meet again, she said."]


def test_walk_leaves_out_furniture_teasers_and_link_lists():
    story = ("<p>The summit opened on Monday.</p>"
             "<div class='share-bar'><p>Share this story with your friends.</p></div>"
             "<div class='relatedArticles'><p>Another story worth reading today.</p></div>"
             "<a href='/other'><div>A teaser for another story entirely.</div></a>"
             "<article><p>An embedded article about something else.</p></article>"
             "<ul><li><a href='/a'>World news</a></li><li><a href='/b'>Business news</a></li></ul>"
             "<figure><p>A photo caption inside a figure.</p></figure>"
             "<div><p>Talks went on until late.</p></div>")
    assert article_lines(_story(_page(story))) == ["The summit opened on Monday.", "Talks went on until late."]


def test_walk_skips_a_one_word_paragraph_and_keeps_a_short_sentence():
    story = "<p>Anzeige</p><p>Yes.</p><p>\u200b</p><p>The summit opened on Monday.</p>"
    assert article_lines(_story(_page(story))) == ["Yes.", "The summit opened on Monday."]


def test_walk_keeps_a_short_chinese_subheading():
    # eight characters of Chinese are a subheading, not a one-word label
    story = "<p><strong>“数字”发现社会</strong></p><p>Anzeige</p><p>The summit opened on Monday.</p>"
    assert article_lines(_story(_page(story))) == ["“数字”发现社会", "The summit opened on Monday."]


def test_walk_keeps_a_paragraph_citing_its_sources_in_links_but_not_a_link_dense_heading():
    cited = ("<p>According to <a href='/r'>the official report of the ministry</a>, talks"
             " <a href='/s'>ended late</a>.</p>")  # 45 of 67 characters linked: 0.67
    story = (cited + "<p><a href='/x'>Read more about the summit and its guests</a> here.</p>"  # 0.87
             "<h2><a href='/y'>More on the summit</a> and its guests</h2>")  # 0.55: over a heading's 0.5
    assert article_lines(_story(_page(story))) == [
        "According to the official report of the ministry, talks ended late."]


def test_walk_puts_lead_named_blocks_before_the_lines_once_each_never_the_headline_block():
    first, second, third, far = (f"The {n} lead-named block before the story, in page order." for n in
                                 ("first", "second", "third", "fourth"))
    article = (f"<div class='summary'>{first}</div>"
               "<div class='intro'><h1>Summit in the capital</h1>Leaders meet for talks on trade.</div>"
               f"<div class='deck'>{first}</div><div id='story'>{_LONG}</div>")
    html = (f"<html><body><div><div class='abstract'>{far}</div><div>"  # three levels up: too far
            f"<div class='subtitle'>{third}</div><div><div class='standfirst'>{second}</div>"
            f"<div>{article}</div></div></div></div></body></html>")
    container = article_container(_body(html))
    assert container is not None and container.get("id") == "story"
    assert article_lines(container) == [third, second, first] + _PARAGRAPHS * 2


def test_walk_leaves_out_a_short_or_link_dense_lead_named_block():
    before = ("<div class='lead'>Breaking news</div>"
              "<div class='excerpt'><a href='/o'>Another story about another summit elsewhere</a></div>")
    html = f"<html><body><div class='article'>{before}<div id='story'>{_LONG}</div></div></body></html>"
    assert article_lines(article_container(_body(html))) == _PARAGRAPHS * 2


# --- the body extraction uses it ----------------------------------------------------------------

def _prepared_body(html: str) -> HtmlElement:
    return trafpipe.prepare(parse(html), URL).tree.find("body")


def test_body_extraction_reads_a_simple_page_with_the_reader():
    story = "<h2>The talks</h2>" + _LONG + "<table><tr><td>Norway</td><td>12</td></tr></table>"
    html = _page(story, before="<div class='standfirst'>Two leaders met in the capital for talks on trade.</div>")
    container = article_container(_prepared_body(html))
    assert container is not None
    lines = ensemble_lines(parse(html), URL)
    assert lines == article_lines(container)
    # trafilatura's precision run leaves this standfirst out and writes the row "| Norway | 12 |"
    assert lines[0] == "Two leaders met in the capital for talks on trade."
    assert lines[-1] == "Norway | 12"


def test_body_extraction_leaves_other_pages_to_trafilatura():
    story = "".join(f"<div class='part'>{''.join(f'<p>{p}</p>' for p in _PARAGRAPHS)}</div>" for _ in range(2))
    html = _page(story)
    assert article_container(_prepared_body(html)) is None
    lines = ensemble_lines(parse(html), URL)
    assert any("Paragraph 3 of a wire story" in line for line in lines)
