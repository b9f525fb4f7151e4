from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crawler.extraction.dedup import SIMILAR, StoryIndex, revise, signature, similarity
from indexer.article import Article

WIRE = (
    "Belarusian leader Alexander Lukashenko held a meeting on Saturday with detained opposition leaders in a Minsk "
    "prison. The bizarre yet officially reported meeting saw the strongman sit down with opponents he has jailed "
    "for months during anti-government protests against his disputed August 9 election win. The state-run Belta "
    "news agency cited an official government photo showing Lukashenko sat around a table with 11 casually-dressed "
    "people. The picture shows opposition politician Viktor Babariko sat to the left of the president. Babariko was "
    "barred from running in the election and was detained in July along with his son. The opposition, however, "
    "described the visit as a sign of weakness. Belarus has seen two months of protests since the contested poll."
)
# The same wire copy as another site ran it: new first sentence, one sentence cut, one added, words changed.
EDITED = (
    "MINSK — In an unusual move, the Belarusian president visited jailed rivals. "
    + WIRE.replace("The bizarre yet officially reported", "The strange but officially reported")
    .replace(" Babariko was barred from running in the election and was detained in July along with his son.", "")
    + " Another big protest is planned for this Sunday."
)
OTHER = (
    "The European Central Bank left interest rates unchanged on Thursday but signalled that it was ready to act in "
    "December as a second wave of coronavirus infections threatens the eurozone recovery. ECB President Christine "
    "Lagarde said the bank would recalibrate its instruments to respond to the unfolding situation. Economists "
    "expect an expansion of the pandemic emergency purchase programme. Belarus was not discussed at the meeting, "
    "and the opposition in Minsk was not mentioned by the president of the bank."
)
SAME_TOPIC = (
    "Thousands of protesters marched through Minsk on Sunday demanding the resignation of Alexander Lukashenko, "
    "despite a heavy police presence. Riot police detained dozens of demonstrators, human rights groups said. "
    "The opposition leader Sviatlana Tsikhanouskaya called on Belarusians to keep up the pressure on the strongman."
)


def art(url: str, text: str, title: str = "Story") -> Article:
    return Article(url=url, title=title, text=text)


def test_similarity_thresholds():
    assert similarity(WIRE, WIRE) == 1.0
    assert similarity(WIRE, EDITED) >= SIMILAR
    assert similarity(WIRE, OTHER) < 0.1
    assert similarity(WIRE, SAME_TOPIC) < SIMILAR


def test_signature_is_stable_across_processes():
    # A fixed seed and no Python hash(): the stored signature is reproducible.
    assert signature(WIRE)[:4] == signature(WIRE)[:4]
    assert len(signature(WIRE)) == 128


def test_story_index_groups_wire_copies():
    index = StoryIndex()
    first = index.assign(art("https://a.example/wire", WIRE))
    assert index.assign(art("https://b.example/copy", EDITED, title="Lukashenko visits jailed rivals")) == first
    assert index.assign(art("https://c.example/ecb", OTHER)) != first
    assert index.assign(art("https://d.example/protest", SAME_TOPIC)) != first
    # The same URL keeps its story id.
    assert index.assign(art("https://a.example/wire", WIRE)) == first
    assert len(index) == 4


def test_story_index_restores_from_stored_signatures():
    index = StoryIndex()
    index.add("https://a.example/wire", "s-stored", signature(WIRE))
    assert index.assign(art("https://b.example/copy", EDITED)) == "s-stored"


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_unrelated_stories_never_merge(threshold):
    index = StoryIndex(threshold=threshold)
    a = index.assign(art("https://a.example/1", WIRE))
    assert index.assign(art("https://c.example/2", OTHER)) != a


def test_revise_unchanged_and_changed():
    t0 = datetime(2020, 10, 10, 14, 0, tzinfo=timezone.utc)
    stored = Article(url="https://a.example/x", title="T", text=WIRE, story_id="s-1", published_at=t0,
                     published_at_source="jsonld")
    assert revise(stored, Article(url="https://a.example/x", title="T", text=WIRE)) is None
    t1 = datetime(2020, 10, 10, 18, 0, tzinfo=timezone.utc)
    updated = revise(stored, Article(url="https://a.example/x", title="T", text=EDITED, fetched_at=t1))
    assert updated.version == 2 and updated.story_id == "s-1"
    assert updated.modified_at == t1 and updated.published_at == t0
    assert updated.content_hash != stored.content_hash
    assert revise(None, stored) is stored
