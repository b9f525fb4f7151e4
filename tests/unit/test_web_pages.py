"""The web app's pure parts: the coverage chart's shapes and the grouping of a story's copies."""

from __future__ import annotations

from indexer.article import Article
from indexer.backends.base import Hit
from web.chart import HEIGHT, AXIS, build
from web.pages_search import group_stories


def test_chart_has_a_group_per_day_gaps_included_and_stacks_by_source():
    chart = build({("2024-03-01", "a"): 2, ("2024-03-01", "b"): 1, ("2024-03-04", "b"): 3})
    assert [g.day for g in chart.days] == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    assert [g.total for g in chart.days] == [3, 0, 0, 3]
    first = chart.days[0]
    assert [b.source for b in first.bars] == ["a", "b"]
    # stacked: b sits on a, and the tallest day reaches the top of the plot
    assert first.bars[1].y + first.bars[1].height == first.bars[0].y
    assert round(first.bars[1].y, 1) == 0.0 and round(first.bars[0].y + first.bars[0].height, 1) == HEIGHT - AXIS
    assert chart.days[1].bars == []
    assert chart.legend[0][0] == "a" and chart.legend[0][1] != chart.legend[1][1]
    assert build({}).days == []


def _hit(n: int, story: str = "") -> Hit:
    return Hit(Article(url=f"https://x.example/{n}", title=f"t{n}", text="x", source=f"s{n}", story_id=story), 0.0, "")


def test_copies_of_a_story_fold_under_its_first_hit():
    grouped = group_stories([_hit(1, "A"), _hit(2), _hit(3, "A"), _hit(4, "B"), _hit(5, "A"), _hit(6)])
    assert [g.hit.article.title for g in grouped] == ["t1", "t2", "t4", "t6"]
    assert [c.article.title for c in grouped[0].copies] == ["t3", "t5"]
    assert all(not g.copies for g in grouped[1:])


def test_hourly_chart_has_a_group_per_hour():
    chart = build({("2024-03-01T22", "a"): 1, ("2024-03-02T01", "a"): 2}, hourly=True)
    assert [g.day for g in chart.days] == ["2024-03-01T22", "2024-03-01T23", "2024-03-02T00", "2024-03-02T01"]
    assert [g.total for g in chart.days] == [1, 0, 0, 2]
