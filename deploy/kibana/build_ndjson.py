#!/usr/bin/env python3
"""Generate deploy/kibana/mediawatch.ndjson: the Kibana 8.x saved objects for mediawatch.

Standard library only, deterministic output (sorted keys, fixed ids), so the file in the
repo is always what this script prints:

    python deploy/kibana/build_ndjson.py            # rewrite mediawatch.ndjson
    python deploy/kibana/build_ndjson.py --check    # exit 1 if the committed file is stale
    python deploy/kibana/build_ndjson.py --stdout

Objects: two data views (articles alias, alerts index), legacy aggregation-based
visualizations, one saved search and one dashboard, built by ``saved_objects.py``. Import with
``mediawatch kibana import --url http://localhost:5601``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from saved_objects import (
    count, dashboard, data_view, date_histogram, saved_search, table_params, terms, visualization, xy_params,
)

OUT = Path(__file__).resolve().with_name("mediawatch.ndjson")

ARTICLES_VIEW = "mediawatch-articles"  # data view id
ALERTS_VIEW = "mediawatch-alerts"
ARTICLES_PATTERN = "mediawatch-articles"  # the read alias
ALERTS_PATTERN = "mediawatch-alerts"
DASHBOARD_ID = "mediawatch-overview"


def build_objects() -> list[dict]:
    articles = data_view(
        ARTICLES_VIEW, ARTICLES_PATTERN, "published_at", "mediawatch articles",
        {"url": {"id": "url"}, "canonical_url": {"id": "url"}},
        hidden=("*_folded",),  # our query copies of the text: stored, but noise in Discover
    )
    alerts = data_view(
        ALERTS_VIEW, ALERTS_PATTERN, "sent_at", "mediawatch alert hits", {"url": {"id": "url"}},
    )

    over_time = visualization(
        "mediawatch-articles-over-time", "Articles over time by source",
        "Articles per interval, stacked by source (top 10).", ARTICLES_VIEW, "histogram",
        xy_params("histogram", "stacked", "Articles"),
        [count(), date_histogram("2", "published_at"), terms("3", "source", "group", 10, "Source", True)],
    )
    top_sources = visualization(
        "mediawatch-top-sources", "Top sources", "Sources by number of articles.",
        ARTICLES_VIEW, "table", table_params(),
        [count(), terms("2", "source", "bucket", 25, "Source")],
    )
    languages = visualization(
        "mediawatch-languages", "Languages", "Share of articles per detected language.",
        ARTICLES_VIEW, "pie",
        {
            "addLegend": True,
            "addTooltip": True,
            "distinctColors": True,
            "isDonut": True,
            "labels": {"last_level": True, "percentDecimals": 1, "position": "default",
                       "show": True, "truncate": 100, "values": True, "valuesFormat": "percent"},
            "legendDisplay": "show",
            "legendPosition": "right",
            "maxLegendLines": 1,
            "nestedLegend": False,
            "palette": {"name": "default", "type": "palette"},
            "truncateLegend": True,
            "type": "pie",
        },
        [count(), terms("2", "language", "segment", 12, "Language", True)],
    )
    top_tags = visualization(
        "mediawatch-top-tags", "Top tags", "Most frequent article tags.", ARTICLES_VIEW,
        "tagcloud",
        {"maxFontSize": 60, "minFontSize": 14, "orientation": "single",
         "palette": {"name": "default", "type": "palette"}, "scale": "linear", "showLabel": False},
        [count(), terms("2", "tags", "segment", 40, "Tag")],
    )
    top_sections = visualization(
        "mediawatch-top-sections", "Top sections", "Sections by number of articles, per source.",
        ARTICLES_VIEW, "table", table_params(),
        [count(), terms("2", "section", "bucket", 20, "Section"),
         terms("3", "source", "bucket", 3, "Source")],
    )
    latest = saved_search(
        "mediawatch-latest-articles", "Latest articles", "Newest articles first.", ARTICLES_VIEW,
        ["source", "title", "language", "section", "url"], [["published_at", "desc"]],
    )
    alert_hits = visualization(
        "mediawatch-alert-hits-over-time", "Alert hits over time",
        "Alert mails sent per interval, by rule.", ALERTS_VIEW, "histogram",
        xy_params("histogram", "stacked", "Alert hits"),
        [count(), date_histogram("2", "sent_at"), terms("3", "rule", "group", 10, "Rule", True)],
    )

    board = dashboard(
        DASHBOARD_ID, "mediawatch overview",
        "What mediawatch collected: volume per source, languages, tags and sections, the newest "
        "articles and the alert hits mailed.",
        [
            (over_time, {"x": 0, "y": 0, "w": 32, "h": 15}),
            (top_sources, {"x": 32, "y": 0, "w": 16, "h": 15}),
            (languages, {"x": 0, "y": 15, "w": 16, "h": 15}),
            (top_tags, {"x": 16, "y": 15, "w": 16, "h": 15}),
            (top_sections, {"x": 32, "y": 15, "w": 16, "h": 15}),
            (latest, {"x": 0, "y": 30, "w": 48, "h": 18}),
            (alert_hits, {"x": 0, "y": 48, "w": 48, "h": 13}),
        ],
    )
    # Referenced objects first, the dashboard last (the order Kibana exports in).
    return [articles, alerts, over_time, top_sources, languages, top_tags, top_sections,
            latest, alert_hits, board]


def render(objects: list[dict]) -> str:
    return "".join(json.dumps(o, sort_keys=True, separators=(",", ":")) + "\n" for o in objects)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing the file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    text = render(build_objects())
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python {Path(__file__).as_posix()}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10))} objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
