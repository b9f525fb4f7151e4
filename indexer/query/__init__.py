"""The one query language: Lucene/Kibana syntax → our tree → ES DSL, SQLite FTS5, in-memory matcher, snippets.

Users write Lucene/Kibana query-string syntax. :func:`parse` (``parser``) reads it with luqum and turns it
into a small tree of frozen dataclasses (``tree``: :class:`Term`, :class:`Phrase`, :class:`Prefix`,
:class:`FieldTerm`, :class:`And`, :class:`Or`, :class:`Not`, :class:`MatchAll`). Every backend translates
that tree, never the user's string: :func:`to_es` (``es``, Elasticsearch query DSL), :func:`to_fts5`
(``fts5``, an FTS5 ``MATCH`` expression in which every token is a quoted string we built),
:func:`matches` / :func:`compile_matcher` / :class:`MatcherSet` (``matcher``, in memory, for alerting).
:func:`highlight` / :func:`article_snippet` (``snippets``) mark a query's :class:`Terms` in text, for
search hits and alert mails alike. ``folding`` holds the text model below.

Text model (identical everywhere, because all three evaluate OUR tokens)
------------------------------------------------------------------------
:func:`tokenize`: every character is lower-cased, NFKD-decomposed, combining marks (Unicode category M*)
dropped, and a few letters without a decomposition folded (ß→ss, æ→ae, œ→oe, ø→o, ł→l, đ/ð→d, þ→th, ı→i,
ħ→h, ŧ→t, ς→σ ...). Letters and digits (Python ``str.isalnum``) form tokens; everything else
(punctuation, ``_``, apostrophes, symbols, spaces) separates them: ``don't`` → ``don`` ``t``, ``U.S.`` →
``u`` ``s``, ``e-mail`` → ``e`` ``mail``. Each Han ideograph / Hiragana character is a token of its own.
Tokens longer than 100 characters are cut into 100-character pieces. So ``café`` = ``CAFE`` = ``Café``,
``Łukaszenka`` = ``lukaszenka``.

The indexers store these tokens (between spaces) next to the original text: Elasticsearch in ``<field>_folded``
sub-fields analysed by the built-in ``whitespace`` analyzer (no ``asciifolding`` / ``analysis-common``
needed), SQLite in FTS5 columns with the ``ascii`` tokenizer (which then splits on the spaces only).
Keyword fields are compared as whole values after :func:`fold_keyword` (same character folding, punctuation
kept, whitespace collapsed); in ES as ``<field>_folded`` keywords, in FTS5 as one hex-encoded token per value.

Syntax and semantics (all backends)
-----------------------------------
* ``word`` — the token in title, text or description (the default fields). A word that folds to several
  tokens (``e-mail``, ``U.S.``) means the phrase of those tokens. A word with no letters/digits is an error.
* ``"a phrase"`` — consecutive tokens in one field (phrases never span fields).
* ``"a b c"~N`` — proximity: the distinct tokens all occur in one field, in any order, with at most N other
  tokens between the first and the last (ES ``span_near`` unordered slop N, FTS5 ``NEAR(... , N+k-2)``).
  ``~0`` is the plain ordered phrase. Repeated tokens in a proximity phrase count once.
* ``pre*`` — token prefix (only a trailing ``*`` on a single word; ``?`` and inner ``*`` are errors).
* ``*`` and ``*:*`` — every document.
* ``field:value``, ``field:"phrase"``, ``field:pre*``, ``field:(a OR b)``. Text fields: title, text,
  description. Keyword fields (whole folded value, or value prefix with ``*``): source, language, authors,
  section, tags, url. Unknown fields are errors. Field names are case-insensitive.
* ``AND``, ``OR``, ``NOT``, ``+``, ``-``, parentheses; juxtaposition means AND (``a b`` = ``a AND b``);
  AND binds tighter than OR. ``NOT x`` is set difference: alone it is "all documents without x",
  ``a OR NOT b`` = a ∪ (all − b).
* Boosts (``^2``) are accepted and ignored (they only change scores, never hits).
* Not supported (→ :class:`QueryError` with the position): fuzzy ``~`` on words, regex ``/.../``,
  ranges ``[a TO b]`` / ``>x`` (use the since/until filters), ``?`` and inner wildcards, ``&&``/``||``/``!``.

Per backend: all of the above work on Elasticsearch (term / prefix / match_phrase (whitespace analyzer) /
span_near / bool), on SQLite FTS5 (quoted tokens, ``*`` prefix, ``NEAR``, column filters, a constant
``zzall`` token for pure negation) and in memory, with the same hits; the parity test keeps that true.
Scores differ per backend (BM25 in both, but different statistics); hits do not.
"""

from indexer.query.es import es_field, to_es
from indexer.query.folding import (
    DEFAULT_FIELDS, KEYWORD_QUERY_FIELDS, MAX_KEYWORD, MAX_TOKEN, QUERY_FIELDS, TEXT_QUERY_FIELDS,
    article_folded, article_keywords, fold, fold_article, fold_keyword, folded_text, kw_token, tokenize,
)
from indexer.query.fts5 import ALL_TOKEN, FTS_KW_COLUMN, FTS_TEXT_COLUMNS, to_fts5
from indexer.query.matcher import ArticleTokens, MatcherSet, compile_matcher, matches
from indexer.query.parser import MAX_SLOP, QueryError, operator_words, parse
from indexer.query.snippets import Snippet, Terms, article_snippet, clean_text, highlight, positive_leaves
from indexer.query.tree import And, FieldTerm, MatchAll, Node, Not, Or, Phrase, Prefix, Term

__all__ = [
    "QueryError", "Node", "MatchAll", "Term", "Phrase", "Prefix", "FieldTerm", "And", "Or", "Not",
    "parse", "operator_words", "to_es", "to_fts5", "matches", "compile_matcher", "ArticleTokens", "MatcherSet",
    "fold", "tokenize", "folded_text", "fold_article", "article_folded", "fold_keyword", "kw_token", "article_keywords", "es_field",
    "Terms", "Snippet", "highlight", "article_snippet", "clean_text", "positive_leaves",
    "TEXT_QUERY_FIELDS", "KEYWORD_QUERY_FIELDS", "DEFAULT_FIELDS", "QUERY_FIELDS",
    "MAX_TOKEN", "MAX_KEYWORD", "MAX_SLOP", "ALL_TOKEN", "FTS_KW_COLUMN", "FTS_TEXT_COLUMNS",
]
