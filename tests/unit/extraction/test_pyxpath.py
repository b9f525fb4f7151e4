"""Compiled expressions must select exactly what libxml2 selects, on made-up and real trees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree, html
from trafilatura import xpaths

from crawler.extraction import NotArticle, extract, fastxpath, pyxpath

from ._data import aeb_page, _aeb_truth

NS = {"re": xpaths.REGEXP_NS}

DOC = """<html><body>
<div class="nav-a" id="x1"><p id="reply-1" class="c">one</p><p class="reply-2" id="q">two</p></div>
<div id="nav-b" class="Foo"><span role="Navigation">three</span><a rel="author">four</a></div>
<section class="a"><div class="a">five</div><div>six</div><div class="b">seven</div></section>
<article><main id="m">eight</main></article><main>nine</main>
<p data-x="">ten</p><p class="">eleven</p><author>twelve</author>
</body></html>"""

CASES = [
    ".//*[self::div or self::p][@class='a' or contains(@id, 'x')]",
    ".//*[re:test(@id|@class, '^nav')]",  # the first of id and class in the tag is tested
    ".//*[starts-with(@id|@class, 'reply-')]",
    ".//*[contains(translate(@role, 'N', 'n'), 'nav')]",
    ".//*[contains(translate(@role, 'NA', 'n'), 'vigtion')]",  # A has no counterpart: deleted
    ".//*[contains(translate(@role, 'NNa', 'nxA'), 'nAvigAtion')]",  # the first N's mapping wins
    ".//*[self::div][@class][1]",  # each parent's first match
    "(.//*[self::div][@class])[1]",
    "(.//article)[1]|(.//main)[1]",  # both parts match: libxml2 merges them
    "(.//section)[1]|(.//main)[1]",
    "//*[@id='m']",
    ".//*[re:test(@class, 'foo', 'i')]",
    ".//*[not(@class) and @id]",
    ".//*[re:test(@class, '^(?:a)?$')]",  # the regex matches a missing class ("") too
    ".//*[@data-x]",
    ".//*[((@class) and re:test(@class, 'a|c'))]",
    "//*[self::a or self::p][@rel='author' or rel='me']|//author",
]


@pytest.mark.parametrize("path", CASES)
def test_selects_what_libxml2_selects_from_every_context(path):
    tree = html.fromstring(DOC)
    xpath = etree.XPath(path, namespaces=NS)
    compiled = pyxpath.compile_path(xpath)
    for context in tree.iter():
        assert compiled(context) == xpath(context), etree.tostring(context)[:60]


def test_a_child_element_test_is_answered_by_libxml2_where_such_children_exist():
    xpath = etree.XPath("//*[self::a or self::p][@rel='author' or rel='me']|//author")
    compiled = pyxpath.compile_path(xpath)
    tree = html.fromstring("<html><body><p>x<rel>me</rel></p><a rel='author'>y</a></body></html>")
    assert [e.tag for e in compiled(tree)] == ["p", "a"] == [e.tag for e in xpath(tree)]


@pytest.mark.parametrize("path", [
    ".//div[.//h1]",  # a path inside a predicate
    "//div//a[@href]",  # more than one step
    ".//*[position()=2]",
    ".//*[self::div][2]",
    ".//*[re:test(@class, 'a', 'g')]",  # a flag lxml would pass on
    ".//*[string-length(@id) > 2]",
])
def test_other_xpath_is_left_to_libxml2(path):
    with pytest.raises(pyxpath.Unsupported):
        pyxpath.compile_path(etree.XPath(path, namespaces=NS))


def test_install_compiles_what_it_can_and_guards_the_rest():
    assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], pyxpath.CompiledPath)
    assert isinstance(xpaths.AUTHOR_XPATHS[0], pyxpath.CompiledPath)
    # not(.//h1): a path inside a predicate
    assert isinstance(xpaths.RAW_TREE_PRUNE_XPATH[0], etree.XPath)
    assert "((@id) and re:test(@id" in xpaths.RAW_TREE_PRUNE_XPATH[0].path


# -- random trees: every compiled trafilatura expression against its XPath --------------------

_TAGS = ["div", "p", "span", "section", "article", "main", "a", "list", "item", "h1", "h3", "author",
         "rel", "time", "figure", "header", "strong"]
_ATTRS = ["id", "class", "style", "role", "itemprop", "rel", "aria-hidden", "data-component",
          "data-testid", "data-lp-replacement-content"]
_WORDS = ["", "comment", "comments", "nav", "Navigation", "author", "author-name", "byline", "reply-x",
          "hidden", "display:none", "share", "post-content", "article-body", "main", "content", "true",
          "me", "caption", "teaser", "Teaser", "bottom", "link", "cookie", "entry", "story", "x y", " ad "]


@st.composite
def _trees(draw, depth=0):
    tag = draw(st.sampled_from(_TAGS))
    attrs = draw(st.dictionaries(st.sampled_from(_ATTRS),
                                 st.lists(st.sampled_from(_WORDS), max_size=3).map(" ".join), max_size=3))
    children = draw(st.lists(_trees(depth + 1), max_size=0 if depth >= 3 else 4))
    text = draw(st.sampled_from(["", "me", "text"]))
    attr_text = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<{tag}{attr_text}>{text}{''.join(children)}</{tag}>"


_COMPILED = [(name, x) for name in fastxpath.ORIGINALS for x in getattr(xpaths, name)
             if isinstance(x, pyxpath.CompiledPath)]


@settings(max_examples=150, deadline=None)
@given(st.lists(_trees(), min_size=1, max_size=4))
def test_random_trees(blocks):
    tree = html.fromstring("<html><body>" + "".join(blocks) + "</body></html>")
    contexts = [tree] + list(tree.iter())[::5]
    for name, compiled in _COMPILED:
        for context in contexts:
            assert compiled(context) == compiled.xpath(context), (name, compiled.path)


# -- real pages: the trees trafilatura hands each expression while extracting ------------------

class _Checked:
    """Runs the compiled expression and libxml2 side by side, and records any difference."""

    def __init__(self, name: str, compiled: pyxpath.CompiledPath, differences: list) -> None:
        self.name, self.compiled, self.differences = name, compiled, differences
        self.path = compiled.path
        self.calls = 0

    def __call__(self, context):
        self.calls += 1
        expected = self.compiled.xpath(context)
        if self.compiled(context) != expected:
            self.differences.append(self.name)
        return expected


@pytest.mark.timeout(300)
def test_equal_to_libxml2_while_extracting_real_pages():
    urls = [item["url"] for item in _aeb_truth().values()]
    differences: list[str] = []
    saved = {name: list(getattr(xpaths, name)) for name in fastxpath.ORIGINALS}
    checked = []
    try:
        for name, expressions in saved.items():
            for i, x in enumerate(expressions):
                if isinstance(x, pyxpath.CompiledPath):
                    getattr(xpaths, name)[i] = c = _Checked(f"{name}[{i}]", x, differences)
                    checked.append(c)
        for url in urls:
            page_html, page_url, _ = aeb_page(url)
            try:
                extract(page_html, page_url)
            except NotArticle:
                pass
    finally:
        for name, expressions in saved.items():
            getattr(xpaths, name)[:] = expressions
    assert differences == []
    called = {c.name for c in checked if c.calls}
    # the expressions that cost the most were exercised
    assert {"BODY_XPATH[0]", "OVERALL_DISCARD_XPATH[0]", "OVERALL_DISCARD_XPATH[1]", "AUTHOR_XPATHS[0]"} <= called
