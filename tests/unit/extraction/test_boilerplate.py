"""The line filter's phrasings: each holds at the start of a short line (a call to follow or subscribe at the
start of any of its sentences)."""

from __future__ import annotations

import pytest

from crawler.extraction.boilerplate import drop_boilerplate, is_boilerplate


@pytest.mark.parametrize("line", [
    "Read more: Lukashenko frees prisoners", "— Advertisement", "Anzeige", "Publicité ", "Photo: AFP",
    "Share this article on Facebook", "Follow us on Twitter", "© 2024 Minsk Daily", "Comments (12)",
    # a call to follow or subscribe, wherever a sentence of the short line makes it
    "Follow Newsbeat on Instagram, Facebook, Twitter and YouTube.",
    "Follow The Gleaner on Twitter and Instagram @JamaicaGleaner and on Facebook @GleanerJamaica.",
    "There's plenty more where that came from. Sign up for The Water Coolest today to get the free newsletter.",
    "WANT MORE RECIPES? Subscribe to our newsletter and follow us on Facebook.",
])
def test_furniture_lines_go(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", [
    # a sentence that ends in one of the words is prose: the word stands alone on a furniture line
    "Der Verlag schaltete am Montag eine ganzseitige Anzeige",
    "The campaign bought a full-page advertisement",
    "Le parti a retiré sa publicité",
    "Readers were asked to share their views on the plan.",
    # following and subscribing in prose: a verb of the story, not a call to the reader
    "Disney's teams patched the software as the company continued to sign up additional subscribers.",
    "Fans follow the band on tour across Europe every summer.",
    "Analysts who follow the company said its posts on Facebook had drawn complaints.",
    "More than a million people subscribe to the channel.",
])
def test_prose_that_ends_like_furniture_stays(line):
    assert not is_boilerplate(line)


def test_a_sources_own_patterns_apply_beside_ours():
    import re

    extra = (re.compile(r"^Minsk Daily app\b"),)
    assert drop_boilerplate(["Minsk Daily app: get it", "A paragraph.", "Advertisement"], extra) == ["A paragraph."]

