"""Story thresholds on real pages: near-duplicates share a story, distinct stories (even of one site,
sharing its boilerplate, or telling one event in other words) do not."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import urlsplit

import pytest

from crawler.extraction import NotArticle, extract
from indexer.article import Article
from indexer.signatures import band_keys, decode, encode, sign, signature, similarity
from indexer.stories import SIMILAR, Stories
from tests.harness.site_pages import AEB_DIR
from tests.harness.story_texts import SAME_EVENT, WIRE

AEB = AEB_DIR


@lru_cache(maxsize=1)
def dev_articles() -> dict[str, Article]:
    truth = json.loads((AEB / "ground-truth.json").read_text("utf-8"))
    out = {}
    for key, item in sorted(truth.items()):
        html = gzip.decompress((AEB / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        try:
            out[key] = extract(html, item["url"])
        except NotArticle:
            continue
    return out


def sim(a: Article, b: Article) -> float:
    return similarity(signature(a.title, a.text), signature(b.title, b.text))


def edited(a: Article) -> Article:
    """How another outlet runs the same wire copy: its own headline and lead, the shortest paragraph cut,
    a closing line added."""
    paras = a.text.split("\n")
    shortest = min(range(len(paras)), key=lambda i: len(paras[i]))
    kept = [p for i, p in enumerate(paras) if i != shortest]
    text = "\n".join(["In a statement on Monday, officials confirmed the news.", *kept, "This story has been updated."])
    return Article(url="https://copy.example/x", title="Another outlet's headline", text=text)


def test_same_site_pairs_sharing_boilerplate_are_distinct_stories():
    by_host = defaultdict(list)
    for a in dev_articles().values():
        by_host[urlsplit(a.url).hostname].append(a)
    pairs = [(x, y) for arts in by_host.values() if len(arts) == 2 for x, y in [arts]]
    assert len(pairs) >= 20  # the dev set has 25 sites with two articles each
    for x, y in pairs:
        assert sim(x, y) < SIMILAR / 2, (x.url, y.url)


def test_an_edited_copy_of_a_real_page_is_the_same_story():
    arts = [a for a in dev_articles().values() if len(a.text.split("\n")) >= 4]
    assert len(arts) >= 50
    scores = sorted(sim(a, edited(a)) for a in arts)
    assert all(s >= SIMILAR for s in scores), scores[:5]


def test_no_two_distinct_dev_pages_are_one_story():
    arts = list(dev_articles().values())
    sigs = [signature(a.title, a.text) for a in arts]
    worst = max(similarity(sigs[i], sigs[j]) for i in range(len(sigs)) for j in range(i + 1, len(sigs)))
    assert worst < SIMILAR / 2


def test_one_event_in_other_words_is_another_story():
    assert similarity(signature("Lukashenko meets jailed rivals", WIRE),
                      signature("Lukashenko talks to jailed critics", SAME_EVENT)) < 0.1


@pytest.mark.parametrize("text", [WIRE, "", "short", "東京都は月曜日に新しい予算案を発表した。" * 30])
def test_signature_round_trips_and_keys_are_stable(text):
    sig = signature("Title", text)
    assert decode(encode(sig)).tolist() == sig.tolist()
    assert band_keys(sig) == band_keys(signature("Title", text))  # no per-process salt
    assert len(set(band_keys(sig))) == len(band_keys(sig))


def test_a_corrupt_stored_signature_reads_as_none():
    assert decode("not base64!") is None and decode(encode(signature("a", "b"))[:20]) is None


def test_a_full_word_cache_neither_changes_signatures_nor_grows(monkeypatch):
    """The word cache is bounded: once full it starts a new generation from the article at hand, and the
    signatures are those a fresh process computes."""
    import indexer.signatures as signatures

    expected = {name: signature("", text) for name, text in (("wire", WIRE), ("event", SAME_EVENT))}
    monkeypatch.setattr(signatures, "_codes", {})
    monkeypatch.setattr(signatures, "_WORD_CODES_MAX", 60)
    for n in range(20):  # each text brings new words, so the cache fills and turns over
        signature("", " ".join(f"word{n}x{i}" for i in range(40)))
        assert len(signatures._codes) <= 60
        assert (signature("", WIRE) == expected["wire"]).all()
        assert (signature("", SAME_EVENT) == expected["event"]).all()


def test_a_signature_made_elsewhere_is_kept_only_while_it_matches_the_text():
    """The extraction workers sign; the writer keeps their signature unless the title or text changed
    since (a title filled in later) or it is corrupt, and then signs again."""
    a = Article(url="https://a.example/1", title="Lukashenko meets jailed critics", text=WIRE)
    sign(a)
    assert decode(a.story_sig).tolist() == signature(a.title, WIRE).tolist()
    assert a.story_keys == band_keys(signature(a.title, WIRE))
    a.story_keys = ["kept"] * len(a.story_keys)  # marks whether sign() below recomputes
    sign(a)
    assert a.story_keys == ["kept"] * len(a.story_keys)
    a.title = "A headline set after signing"
    sign(a)
    assert a.story_keys == band_keys(signature(a.title, WIRE))
    assert a.content_hash == Article(url="https://a.example/1", title=a.title, text=WIRE).content_hash
    a.story_sig = "corrupt"
    a.story_keys = ["kept"] * len(a.story_keys)
    sign(a)
    assert a.story_keys == band_keys(signature(a.title, WIRE))


class _NothingIndexedYet:
    """The index before its refresh: it answers, with nothing of what this process just wrote."""

    def story_state(self, ids: list[str]) -> dict:
        return {}

    def story_candidates(self, keys: list[str], since, until) -> list:
        return []


def _stamped(url: str, text: str) -> Article:
    return Article(url=url, title="Council votes on the budget", text=text,
                   indexed_at=datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc))


def test_the_recent_writes_group_copies_and_are_forgotten_key_by_key_as_they_expire():
    """What the index cannot show yet comes from the process's own recent writes, by band key; expiry drops
    a write from each of its keys, leaving a later write of the same keys in place."""
    index, stories = _NothingIndexedYet(), Stories(recent_s=60)
    text = " ".join(f"The council voted on item {i} of the city budget after a long debate." for i in range(40))
    first, second = _stamped("https://a.example/1", text), _stamped("https://b.example/2", text)
    stories.prepare([first], index)
    stories.written([first])
    stories.prepare([second], index)
    stories.written([second])
    assert second.story_id == first.story_id  # found among the recent writes
    keys = set(first.story_keys)
    assert set(stories._recent_keys) == keys and all(len(held) == 2 for held in stories._recent_keys.values())

    t_first, t_second = stories._recent[first.id][0], stories._recent[second.id][0]
    stories._expire((t_first + t_second) / 2 + 60)  # the first write expired, the second not
    assert set(stories._recent_keys) == keys
    assert all([entry[1].id for entry in held] == [second.id] for held in stories._recent_keys.values())
    stories._expire(t_second + 61)
    assert not stories._recent_keys and not stories._recent
