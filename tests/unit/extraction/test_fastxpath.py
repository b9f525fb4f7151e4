"""The guarded XPaths must select exactly what trafilatura's originals select."""

from __future__ import annotations

import json
import re

import pytest
from lxml import etree
from trafilatura import xpaths

from crawler.extraction import fastxpath, parse

from ._data import FIXTURES, SHARED, aeb_page


def test_guard_added_where_a_missing_attribute_cannot_match():
    path = ".//div[re:test(@class, 'share|social') or re:test(@id|@class, '^nav', 'i')]"
    assert fastxpath.guarded_path(path) == (
        ".//div[((@class) and re:test(@class, 'share|social')) or "
        "((@id|@class) and re:test(@id|@class, '^nav', 'i'))]")


def test_no_guard_where_the_regex_matches_the_empty_string():
    path = ".//div[re:test(@class, '^(?:nav)?$')]"
    assert fastxpath.guarded_path(path) == path


def test_every_regex_test_of_trafilatura_is_recognised():
    # a re:test the pattern missed would stay unguarded: slower, never wrong, but say so
    for name, expressions in fastxpath.ORIGINALS.items():
        for x in expressions:
            assert len(fastxpath._RE_TEST.findall(x.path)) == x.path.count("re:test("), name


def test_install_is_idempotent():
    before = [x.path for x in xpaths.OVERALL_DISCARD_XPATH]
    fastxpath.install()
    assert [x.path for x in xpaths.OVERALL_DISCARD_XPATH] == before
    assert xpaths.OVERALL_DISCARD_XPATH[0] is not fastxpath.ORIGINALS["OVERALL_DISCARD_XPATH"][0]


def _trees() -> list[etree._Element]:
    trees = [parse(p.read_text("utf-8")) for p in sorted((FIXTURES / "pages").glob("*.html"))]
    path = SHARED / "eval" / "aeb-dev" / "ground-truth.json"
    if path.exists():
        urls = [item["url"] for item in json.loads(path.read_text("utf-8")).values()][:30]
        trees += [parse(aeb_page(u)[0]) for u in urls]
    return trees


@pytest.mark.timeout(120)
def test_guarded_expressions_select_what_the_originals_select():
    trees = _trees()
    for name, originals in fastxpath.ORIGINALS.items():
        for original, guarded in zip(originals, getattr(xpaths, name)):
            for tree in trees:
                assert guarded(tree) == original(tree), (name, original.path)


def test_installed_lists_hold_the_guarded_paths():
    for name in fastxpath.ORIGINALS:
        for x in getattr(xpaths, name):
            assert "re:test(" not in x.path or re.search(r"\(\(@[\w|@-]+\) and re:test\(", x.path), name
