"""The query language: parsing, errors with positions, folding, and the three translations (pure logic)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.article import Article
from indexer.query import (
    And, FieldTerm, MatchAll, MatcherSet, Not, Or, Phrase, Prefix, QueryError, Term, ArticleTokens, Terms,
    Snippet, article_folded, article_snippet, compile_matcher, fold, fold_article, fold_keyword, folded_text,
    highlight, matches, operator_words, parse, to_es, to_fts5, tokenize,
)
from indexer.query.folding import _TOKEN_TABLE


def test_tokenize_folds_case_diacritics_and_odd_letters():
    assert tokenize("Café CAFÉ cafe\u0301 Straße Łukaszenka ΟΔΟΣ İstanbul ﬁne Ⅻ") == [
        "cafe", "cafe", "cafe", "strasse", "lukaszenka", "οδοσ", "istanbul", "fine", "xii"]
    assert tokenize("Don't e-mail the U.S. at foo_bar 3.14") == [
        "don", "t", "e", "mail", "the", "u", "s", "at", "foo", "bar", "3", "14"]
    assert tokenize("北京新闻 Tokyo") == ["北", "京", "新", "闻", "tokyo"]
    assert tokenize("x" * 250) == ["x" * 100, "x" * 100, "x" * 50]
    assert tokenize("") == [] and tokenize("!!! --- ™") == []


def test_tokenize_a_long_text_without_a_token():
    assert tokenize("-" * 150) == [] and folded_text("-" * 150).split() == []


_PIECES = ["x" * 60, "Ab1", " ", "  ", "-", ".", "é", "Ł", "北", "\u00a0", "\u2019", "\n", "ﬁ"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24).map("".join))
def test_folded_text_splits_on_spaces_into_exactly_our_tokens(text):
    # both indexers split the stored folded copy on spaces only (ES whitespace analyzer, FTS5 ascii)
    assert folded_text(text).split() == tokenize(text)


def test_folded_text_cuts_long_tokens_like_tokenize():
    long = "a" + "x" * 250 + ", b"
    assert folded_text(long) == " ".join(["a" + "x" * 99, "x" * 100, "x" * 51, "b"])
    assert folded_text("x" * 100 + "!") == "x" * 100 + " "  # at the limit: left as folded


def test_an_article_folded_once_keeps_its_folding_while_its_fields_are_the_strings_folded():
    import pickle

    a = Article(url="https://a.example/1", title="Łukaszenka's TALKS", text="Prisoners — freed.\nNext: Minsk",
                description="Café")
    fold_article(a)
    a = pickle.loads(pickle.dumps(a))  # as it comes back from an extraction worker
    assert article_folded(a) is a.folded.texts
    assert article_folded(a) == (folded_text(a.title), folded_text(a.text), folded_text(a.description))
    assert "folded" not in a.to_dict() and a == Article.from_dict(a.to_dict())
    a.title = "Another title"  # set anew (a rewrite, a cleaned string): folded again, not taken as folded
    assert article_folded(a) == ("another title", folded_text(a.text), "cafe")
    assert ArticleTokens.from_article(a).tokens["title"] == tokenize("Another title")


def test_fold_keyword_keeps_punctuation():
    assert fold_keyword("  Zoë   Müller ") == "zoe muller"
    assert fold_keyword("https://DW.com/a?b=1") == "https://dw.com/a?b=1"
    assert fold_keyword("") is None and fold_keyword("x" * 9000) is None


@pytest.mark.parametrize("q, tree", [
    ("trump", Term("trump")),
    ("Trump china", And((Term("trump"), Term("china")))),
    ("a OR b AND c", Or((Term("a"), And((Term("b"), Term("c")))))),
    ("a AND NOT b", And((Term("a"), Not(Term("b"))))),
    ("-a +b", And((Not(Term("a")), Term("b")))),
    ("NOT NOT a", Term("a")),
    ('"New  York"', Phrase(("new", "york"))),
    ('"New York"~3', Phrase(("new", "york"), slop=3)),
    ('"New York"~0', Phrase(("new", "york"))),
    ('"a a b"~2', Phrase(("a", "b"), slop=2)),
    ('"one"', Term("one")),
    ("e-mail", Phrase(("e", "mail"))),
    ("café", Term("cafe")),
    ("mac*", Prefix("mac")),
    ("Title:Apple", Term("apple", "title")),
    ("title:(a OR \"b c\")", Or((Term("a", "title"), Phrase(("b", "c"), "title")))),
    ("source:DW.com", FieldTerm("source", "dw.com")),
    ("authors:\"Zoë Müller\"", FieldTerm("authors", "zoe muller")),
    ("url:https\\://x.com/*", FieldTerm("url", "https://x.com/", prefix=True)),
    ("*", MatchAll()),
    ("*:*", MatchAll()),
    ("trump^2", Term("trump")),
    ("(a OR b)^3 c", And((Or((Term("a"), Term("b"))), Term("c")))),
    ("a OR *", MatchAll()),
    ("NEAR", Term("near")),
    ('"quote \\" inside"', Phrase(("quote", "inside"))),
])
def test_parse(q, tree):
    assert parse(q) == tree


@pytest.mark.parametrize("q, position, words", [
    ("", 0, "empty"),
    ("   ", 0, "empty"),
    ("a AND", 5, "end of query"),
    ("a AND (b", 8, "end of query"),
    ("a)", 1, "no matching"),
    ("a OR OR b", 5, "operator"),
    ('foo "bar', 4, "unterminated"),
    ("titel:foo", 0, "unknown field 'titel'"),
    ("x AND published_at:2024", 6, "unknown field"),
    ("f?o", 1, "wildcard"),
    ("a fo*o", 4, "wildcard"),
    ("*foo", 0, "wildcard"),
    ("foo~", 0, "fuzzy"),
    ("/reg/", 0, "regular"),
    ("a [1 TO 5]", 2, "range"),
    ("a && b", 2, "AND"),
    ("!a", 0, "NOT"),
    ("a ...", 2, "letters or digits"),
    ("a ---", 5, "end of query"),
    ('"!!"', 0, "letters or digits"),
    ("title:(a source:b)", 9, "inside field"),
    ('source:"x"~2', 7, "proximity"),
    ("e-ma*", 0, "single word"),
])
def test_errors_have_message_and_position(q, position, words):
    with pytest.raises(QueryError) as info:
        parse(q)
    err = info.value
    assert err.position == position, (str(err), q)
    assert words.lower() in err.message.lower()
    assert str(position) in str(err) and "^" in err.pretty()


@pytest.mark.parametrize("q", [
    'NEAR(a b)', 'title: "x" OR kw', 'a"b', '"a""b"', "col:umn", '"*" x', "^", "a^", '"AND" OR "NOT"',
    '"{title text} : x"', "x NOT", "- x", "\\*", "'single'", 'a:"b c"',
])
def test_fts5_expression_is_built_from_tokens_only(q):
    try:
        node = parse(q)
    except QueryError:
        return  # rejected cleanly is fine too
    expr = to_fts5(node)
    # every user-derived token is inside double quotes; nothing but our syntax outside them
    outside = "".join(part for i, part in enumerate(expr.split('"')) if i % 2 == 0)
    for word in outside.replace("(", " ").replace(")", " ").replace(":", " ").replace("{", " ").replace("}", " ").split():
        assert word in {"AND", "OR", "NOT", "*", "title", "text", "description", "kw", "NEAR", ","} or word.rstrip(",").isdigit(), (q, expr)


def test_fts5_and_es_shapes():
    node = parse('Lukashenko AND (prison OR jail) AND NOT sport')
    assert to_fts5(node) == (
        '((({title text description} : "lukashenko") AND (({title text description} : "prison") OR '
        '({title text description} : "jail"))) NOT (({title text description} : "sport")))')
    es = to_es(node)
    assert set(es["bool"]) == {"must", "must_not"}
    assert to_es(parse('"a b c"~2'))["bool"]["should"][0] == {"span_near": {
        "clauses": [{"span_term": {"title_folded": t}} for t in "abc"], "slop": 2, "in_order": False}}
    assert to_fts5(parse('title:"a b c"~2')) == '({title} : NEAR("a" "b" "c", 3))'
    assert to_es(parse("NOT x")) == {"bool": {"must_not": [to_es(parse("x"))]}}
    assert to_es(parse("source:dw*")) == {"prefix": {"source_folded": {"value": "dw"}}}


ART = Article(
    url="https://ex.com/1", title="Lukashenko jails critics", source="DW.com", authors=["Zoë Müller"],
    text="Alpha beta gamma. Lukashenko sent critics to prison; the café stayed open. Zeta eta.",
    description="A story", tags=["Politics"],
)


@pytest.mark.parametrize("q, expected", [
    ("lukashenko AND prison", True),
    ("lukashenko AND NOT prison", False),
    ("NOT sport", True),
    ("sport OR NOT prison", False),
    ('"sent critics"', True),
    ('"critics sent"', False),
    ('"critics sent"~1', True),
    ('"alpha gamma"~0', False),
    ('"alpha gamma"~1', True),
    ('"gamma alpha"~1', True),
    ('"alpha eta"~3', False),
    ("luka*", True),
    ("title:prison", False),
    ("title:jails", True),
    ("description:story", True),
    ("CAFÉ", True),
    ("source:dw.com", True),
    ("source:dw", False),
    ("source:dw*", True),
    ("authors:\"zoe muller\"", True),
    ("tags:politics", True),
    ('"story lukashenko"', False),  # phrases never span fields
    ("*", True),
])
def test_matcher(q, expected):
    assert matches(q, ART) is expected
    assert compile_matcher(parse(q))(ArticleTokens.from_article(ART)) is expected


def test_matcher_set_matches_like_single_matchers():
    rules = {f"r{i}": parse(q) for i, q in enumerate([
        "lukashenko", "prison AND NOT cafe", "luka*", "NOT sport", "source:dw.com", "source:dw*", "sport",
        '"sent critics"', "nothing OR NOT nothing", "title:(critics OR sport)", "zzz* OR tags:politics"])}
    ms = MatcherSet(rules)
    got = ms.match(ART)
    want = [k for k, node in rules.items() if matches(node, ART)]
    assert got == want
    assert "r6" not in got and "r1" not in got and "r0" in got


def test_highlight_marks_matches_and_escapes():
    art = Article(url="u", title="T", text="<b>Bold</b> claim: the Café is open & Lukashenko came. " + "x " * 200)
    snip = article_snippet(art, Terms.of(parse("cafe OR luka* OR NOT other")), max_words=40).html
    assert "<mark>Café</mark>" in snip and "<mark>Lukashenko</mark>" in snip
    assert "&lt;b&gt;" in snip and "&amp;" in snip and "<b>" not in snip
    assert len(snip) < 400
    assert article_snippet(art, Terms.of(None)).html.startswith("&lt;b&gt;Bold")
    assert "<mark>" not in article_snippet(art, Terms.of(parse("NOT cafe"))).html


def test_one_highlighter_marks_phrases_only_where_they_occur():
    terms = Terms.of(parse('"political prisoners" OR "minsk talks"~3 OR title:jail*'))
    s = highlight("Political prisoners, not prisoners of war, in Minsk: talks in a jail.", terms)
    assert s.html == ("<mark>Political</mark> <mark>prisoners</mark>, not prisoners of war, in <mark>Minsk</mark>: "
                      "<mark>talks</mark> in a <mark>jail</mark>.")
    assert s.text.startswith("*Political* *prisoners*, not prisoners") and s.matched


def test_article_snippet_takes_the_first_field_with_a_match():
    art = Article(url="u", title="Minsk", text="Nothing here. " * 30, description="Talks in Minsk")
    terms = Terms.of(parse("minsk"))
    assert article_snippet(art, terms).html == "Talks in <mark>Minsk</mark>"
    assert article_snippet(art, terms, fields=("text", "title")).html == "<mark>Minsk</mark>"
    assert article_snippet(art, Terms.of(parse("zzz")), max_words=4).text == "Nothing here. Nothing here …"
    assert article_snippet(Article(url="u", title="", text=""), terms) == Snippet("", "", False)


def test_parse_is_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    qs = ["a AND (b OR c)", '"x y"~2 AND title:z', "NOT q", "p* OR source:s"] * 50
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(parse, qs))
    assert got == [parse(q) for q in qs]


_FOLD_ALPHABET = "aZ9 .,-'\u2019\u201c\u201d\u2014\u00a0\u00e9\u00df\u00c6\u00f0\u0142\u0416\u0434\u4e2d\u0627\u0301"


@given(st.text(alphabet=_FOLD_ALPHABET, max_size=60) | st.text(max_size=60))
@settings(max_examples=400, deadline=None)
def test_fold_fast_paths_agree_with_the_table(text):
    # fold() takes shortcuts for typographic marks, Latin-1 and other scripts; all must equal the table
    assert fold(text) == text.translate(_TOKEN_TABLE)


_FILLER = ["news", "the", "minister", "said", "Łódź", "e_mail", "2020", "—", "rivals,", "prisoners.", "jail"]


@settings(max_examples=150, deadline=None)
@given(words=st.lists(st.sampled_from(_FILLER), min_size=300, max_size=3000),
       at=st.lists(st.integers(0, 3000), max_size=3),
       query=st.sampled_from(["lukashenko", "jail*", '"political prisoners"', "minister AND nothing"]))
def test_a_long_values_window_is_the_one_its_whole_text_gives(words, at, query):
    """Long values are cut into words only as far as the window needs (a prefix first): same snippet."""
    from indexer.query.snippets import _highlight

    for i in sorted(at, reverse=True):
        words[min(i, len(words)):min(i, len(words))] = ["Lukashenko", "political", "prisoners"]
    value = " ".join(words)
    terms = Terms.of(parse(query))
    assert highlight(value, terms, max_words=60) == _highlight(value, terms, 60, 12)


# Words that fold otherwise than they lower-case (ё, é, ß, Σ at a word's end, İ, ½, a combining accent, a
# letter past the BMP), beside the query words written plainly: str.lower must not be trusted past them.
_REFOLDING = ["всё", "повёрхность", "пове\u0301рхность", "Поверхность", "поверхность", "straße", "STRASSE", "café",
              "cafe", "ΟΔΟΣ", "οδοσ", "İstanbul", "istanbul", "½", "12", "e_mail", "\U0001d41a\U0001d41b", "ab",
              "news,", "the", "said.", "minister", "Łódź", "lodz"]


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1500, 3000),
       spots=st.lists(st.tuples(st.integers(0, 3000), st.sampled_from(_REFOLDING)), max_size=12),
       query=st.sampled_from(["поверхность", "strasse", "cafe", "οδοσ", "istanbul", "12", "ab", "lodz",
                              "minister", "поверхность OR cafe", "mail"]))
def test_a_window_found_from_the_lower_cased_text_is_the_one_folding_gives(seed, n, spots, query):
    import random

    from indexer.query.snippets import _highlight

    words = random.Random(seed).choices(_FILLER[:4], k=n)
    for i, word in spots:
        words.insert(min(i, len(words)), word)
    value = " ".join(words)
    terms = Terms.of(parse(query))
    assert highlight(value, terms, max_words=40) == _highlight(value, terms, 40, 12)


def test_the_window_of_a_late_match_is_found_without_cutting_all_before_it():
    from indexer.query.snippets import _from_first_match, _highlight

    value = " ".join(["всё ещё её"] * 15 + ["слово"] * 4000 + ["поверхность", "воды"] + ["слово"] * 100)
    terms = Terms.of(parse("поверхность"))
    got = _from_first_match(value, terms, 40, 12)
    assert got is not None and got == _highlight(value, terms, 40, 12) and "<mark>поверхность</mark>" in got.html
    accented = value.replace("всё ещё её", "пове\u0301рхность", 1)  # the first match, only once folded
    assert _from_first_match(accented, terms, 40, 12) is None
    assert highlight(accented, terms, max_words=40) == _highlight(accented, terms, 40, 12)


@pytest.mark.parametrize("earlier,later,query", [
    ("повёрхность", "поверхность", "поверхность"), ("пове\u0301рхность", "поверхность", "поверхность"),
    ("straße", "strasse", "strasse"), ("café", "cafe", "cafe"), ("ΟΔΟΣ", "οδοσ", "οδοσ"),
    ("İstanbul", "istanbul", "istanbul"), ("\U0001d41a\U0001d41b", "ab", "ab"), ("Łódź", "lodz", "lodz"),
    ("½", "12", "12"), ("всё", "поверхность", "поверхность"), ("e_mail", "mail", "mail")])
def test_a_late_match_folded_only_is_the_first(earlier, later, query):
    from indexer.query.snippets import _highlight

    value = " ".join(["said"] * 2000 + [earlier] + ["news"] * 400 + [later] + ["the"] * 100)
    terms = Terms.of(parse(query))
    assert highlight(value, terms, max_words=40) == _highlight(value, terms, 40, 12)


def test_parentheses_nested_too_deep_are_a_query_error_not_a_crash():
    from indexer.query.parser import MAX_DEPTH

    assert parse("(" * MAX_DEPTH + "pier" + ")" * MAX_DEPTH) == parse("pier")
    for depth in (MAX_DEPTH + 1, 1000):
        with pytest.raises(QueryError) as err:
            parse("(" * depth + "pier" + ")" * depth)
        assert err.value.position == MAX_DEPTH and "nested" in err.value.message
    # inside a phrase or escaped, a parenthesis does not open a group
    assert parse('"pier (' + "(" * 60 + '"') == parse('"pier"')
    assert parse("\\(" * 60 + "pier") is not None


@pytest.mark.parametrize("query, words", [
    ("Lukashenko or Putin", ["or"]),
    ("cats Or dogs not mice and birds", ["Or", "not", "and"]),
    ('"rock and roll" OR jazz', []),  # inside a phrase it is a word of the phrase
    ("x AND y OR NOT z", []),
    ("title:or orange android* and~1", []),  # a field's value, longer words, a prefix, fuzzy syntax
])
def test_operator_words_finds_lower_case_operators_outside_phrases(query, words):
    assert operator_words(query) == words
