"""The line filter's phrasings: each holds only at the start of a short line."""

from __future__ import annotations

import pytest

from crawler.extraction.boilerplate import drop_boilerplate, is_boilerplate


@pytest.mark.parametrize("line", [
    "Read more: Lukashenko frees prisoners", "— Advertisement", "Anzeige", "Publicité ", "Photo: AFP",
    "Share this article on Facebook", "Follow us on Twitter", "© 2024 Minsk Daily", "Comments (12)",
])
def test_furniture_lines_go(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", [
    # a sentence that ends in one of the words is prose: the word stands alone on a furniture line
    "Der Verlag schaltete am Montag eine ganzseitige Anzeige",
    "The campaign bought a full-page advertisement",
    "Le parti a retiré sa publicité",
    "Readers were asked to share their views on the plan.",
])
def test_prose_that_ends_like_furniture_stays(line):
    assert not is_boilerplate(line)


def test_a_sources_own_patterns_apply_beside_ours():
    import re

    extra = (re.compile(r"^Minsk Daily app\b"),)
    assert drop_boilerplate(["Minsk Daily app: get it", "A paragraph.", "Advertisement"], extra) == ["A paragraph."]
