"""bench.folds splits a dev set by site: another --salt gives other folds, never a site cut in two."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

from bench import folds

# score.site_of stand-in: the host is the site
SCORE = SimpleNamespace(site_of=lambda url: urlsplit(url).hostname)
TRUTH = {f"p{site}-{i}": {"url": f"https://site{site}.example/a/{i}"} for site in range(24) for i in range(1 + site % 3)}


def _site_folds(split: list[list[str]]) -> list[set[str]]:
    return [{TRUTH[pid]["url"].split("/")[2] for pid in fold} for fold in split]


def test_each_salt_keeps_every_site_in_one_fold_and_every_page_in_a_fold():
    for salt in (folds.SALT, "s4-a", "s4-b"):
        split = folds.make_folds(SCORE, TRUTH, 4, salt)
        assert sorted(pid for fold in split for pid in fold) == sorted(TRUTH)
        sites = _site_folds(split)
        assert all(a.isdisjoint(b) for i, a in enumerate(sites) for b in sites[i + 1:])


def test_another_salt_gives_other_folds_and_the_default_is_unchanged():
    default = folds.make_folds(SCORE, TRUTH, 4)
    assert folds.make_folds(SCORE, TRUTH, 4, folds.SALT) == default
    assert folds.make_folds(SCORE, TRUTH, 4, "s4-a") != default
    assert folds.make_folds(SCORE, TRUTH, 4, "s4-a") != folds.make_folds(SCORE, TRUTH, 4, "s4-b")
