"""The coverage chart: articles per day (or hour) stacked by source, as shapes a template draws in SVG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH, HEIGHT, AXIS = 760, 180, 20
MAX_BUCKETS = 400  # a longer span is cut to its latest buckets: bars thinner than a pixel say nothing
SHORT_RANGE = timedelta(days=3)  # a chosen range this short is drawn per hour
PALETTE = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00",
           "#b82e2e", "#316395")
# Past as many sources as colours, two would share one: the smallest are drawn together, in grey.
OTHERS, OTHERS_COLOR = "other sources", "#999999"


@dataclass(frozen=True)
class Bar:
    source: str
    count: int
    x: float
    y: float
    width: float
    height: float
    color: str


@dataclass(frozen=True)
class DayGroup:
    day: str  # YYYY-MM-DD, or YYYY-MM-DDTHH per hour
    total: int
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    days: list[DayGroup]
    legend: list[tuple[str, str]]  # (source, color)
    peak: int
    hourly: bool = False
    cut: bool = False  # matches before the first bucket drawn (MAX_BUCKETS) are left out


def build(counts: dict[tuple[str, str], int], hourly: bool = False) -> Chart:
    """One group per day (or hour) from the first to the last with a match (empty ones kept, so gaps show)."""
    if not counts:
        return Chart(WIDTH, HEIGHT, [], [], 0, hourly)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    first = datetime.fromisoformat(min(d for d, _ in counts))
    last = datetime.fromisoformat(max(d for d, _ in counts))
    first = max(first, last - step * (MAX_BUCKETS - 1))
    label = (lambda t: t.isoformat(timespec="hours")) if hourly else (lambda t: t.date().isoformat())
    days = [label(first + step * i) for i in range(int((last - first) / step) + 1)]
    drawn = set(days)
    cut = any(day not in drawn for day, _ in counts)
    counts = _grouped({(d, src): n for (d, src), n in counts.items() if d in drawn})
    named = sorted({src for _, src in counts} - {OTHERS})
    sources = named + ([OTHERS] if any(src == OTHERS for _, src in counts) else [])
    colors = {src: PALETTE[i] for i, src in enumerate(named)} | {OTHERS: OTHERS_COLOR}
    totals = {d: sum(n for (day, _), n in counts.items() if day == d) for d in days}
    peak = max(totals.values()) or 1
    slot = WIDTH / len(days)
    width = min(max(slot * 0.8, 1.0), 40.0)  # one lone day is a bar, not a wall
    scale = (HEIGHT - AXIS) / peak
    groups = []
    for i, day in enumerate(days):
        y = HEIGHT - AXIS
        bars = []
        for src in sources:
            n = counts.get((day, src), 0)
            if not n:
                continue
            h = n * scale
            y -= h
            bars.append(Bar(src, n, round(i * slot + (slot - width) / 2, 2), round(y, 2), round(width, 2),
                            round(h, 2), colors[src]))
        groups.append(DayGroup(day, totals[day], bars))
    return Chart(WIDTH, HEIGHT, groups, [(s, colors[s]) for s in sources], peak, hourly, cut)


def _grouped(counts: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """The counts with all but the largest sources (one fewer than the colours) under OTHERS."""
    per_source: dict[str, int] = {}
    for (_, src), n in counts.items():
        per_source[src] = per_source.get(src, 0) + n
    if len(per_source) <= len(PALETTE):
        return counts
    kept = set(sorted(per_source, key=lambda src: (-per_source[src], src))[:len(PALETTE) - 1])
    out: dict[tuple[str, str], int] = {}
    for (day, src), n in counts.items():
        key = (day, src if src in kept else OTHERS)
        out[key] = out.get(key, 0) + n
    return out


def sparkline(counts: dict[str, int], days: list[str], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for a small per-day series (the sources table)."""
    peak = max([counts.get(d, 0) for d in days] + [1])
    step = width / max(len(days) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - counts.get(d, 0) * (height - 2) / peak - 1:.1f}"
                    for i, d in enumerate(days))
