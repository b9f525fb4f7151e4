"""The web app's pure parts: the coverage chart's shapes."""

from __future__ import annotations

from web.chart import AXIS, HEIGHT, MAX_BUCKETS, OTHERS, OTHERS_COLOR, PALETTE, build


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


def test_past_as_many_sources_as_colours_the_smallest_are_drawn_together_in_grey():
    counts = {("2024-03-01", f"s{i:02d}"): i + 1 for i in range(len(PALETTE) + 3)}
    chart = build(counts)
    names = [name for name, _ in chart.legend]
    largest = [f"s{i:02d}" for i in range(len(PALETTE) + 2, 3, -1)]  # the len(PALETTE) - 1 largest
    assert names == sorted(largest) + [OTHERS]
    colors = [color for _, color in chart.legend]
    assert len(set(colors)) == len(colors) and colors[-1] == OTHERS_COLOR
    (day,) = chart.days
    assert day.total == sum(counts.values())
    assert next(b for b in day.bars if b.source == OTHERS).count == 1 + 2 + 3 + 4


def test_a_span_longer_than_the_chart_draws_its_latest_buckets_and_says_so():
    counts = {("2020-01-01", "old"): 5, ("2024-03-01", "new"): 2}
    chart = build(counts)
    assert chart.cut and len(chart.days) == MAX_BUCKETS and chart.days[-1].day == "2024-03-01"
    assert [name for name, _ in chart.legend] == ["new"]  # the source seen only before the window is not listed
    assert not build({("2024-03-01", "new"): 2}).cut
