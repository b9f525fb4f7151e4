"""The web app's pure parts: the coverage chart's shapes."""

from __future__ import annotations

from web.chart import HEIGHT, AXIS, build


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


def test_hourly_chart_has_a_group_per_hour():
    chart = build({("2024-03-01T22", "a"): 1, ("2024-03-02T01", "a"): 2}, hourly=True)
    assert [g.day for g in chart.days] == ["2024-03-01T22", "2024-03-01T23", "2024-03-02T00", "2024-03-02T01"]
    assert [g.total for g in chart.days] == [1, 0, 0, 2]
