"""``make bench``'s cross-script targets: the e2e against the Scrapy + trafilatura ceiling is the
median ratio of the pairs run side by side when the e2e ran them, else the two scripts' medians."""

from __future__ import annotations

from bench.report import CEILING_SYSTEM, derived_targets


def _results(e2e_row: dict) -> dict:
    return {"e2e": {"rows": [e2e_row]},
            "ceilings": {"rows": [{"system": CEILING_SYSTEM, "articles_per_s": 40.0}]}}


def test_the_pairs_ratio_wins_over_the_ceilings_script_minutes_apart():
    row = {"system": "mediawatch e2e", "articles_per_s": 90.0, "n_runs": 3,
           "paired_ceiling_articles_per_s": 50.0, "paired_ceiling_ratio": 1.84}
    (target,) = derived_targets(_results(row))
    assert target["value"] == 1.84 and target["met"] is False and "beside" in target["what"]
    assert target["detail"].startswith("median of 3 pairs")


def test_without_pairs_the_two_scripts_medians_are_compared():
    (target,) = derived_targets(_results({"system": "mediawatch e2e", "articles_per_s": 90.0}))
    assert target["value"] == 2.25 and target["met"] is True and "beside" not in target["what"]
