#!/usr/bin/env python3
"""Generate deploy/kibana/mediawatch.ndjson: the Kibana 8.x saved objects for mediawatch.

Standard library only, deterministic output (sorted keys, fixed ids), so the file in the
repo is always what this script prints:

    python deploy/kibana/build_ndjson.py            # rewrite mediawatch.ndjson
    python deploy/kibana/build_ndjson.py --check    # exit 1 if the committed file is stale
    python deploy/kibana/build_ndjson.py --stdout

Objects: two data views (articles alias, alerts index), legacy aggregation-based
visualizations (stable across 8.x, no Lens state to migrate), one saved search and one
dashboard. Import with ``mediawatch kibana import --url http://localhost:5601``.

Migration versions: documents are stamped with the oldest 8.x versions whose shape they
follow; Kibana migrates older documents forward on import, never backwards, so the file
imports into any Kibana from 8.9 to 8.19.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().with_name("mediawatch.ndjson")

CORE_MIGRATION_VERSION = "8.8.0"  # frozen by Kibana at 8.8.0 for the whole 8.x line
TYPE_MIGRATION_VERSION = {
    "index-pattern": "8.0.0",
    "visualization": "8.5.0",
    "search": "8.0.0",
    "dashboard": "8.9.0",
}
PANEL_VERSION = "8.9.0"

ARTICLES_VIEW = "mediawatch-articles"  # data view id
ALERTS_VIEW = "mediawatch-alerts"
ARTICLES_PATTERN = "mediawatch-articles"  # the read alias
ALERTS_PATTERN = "mediawatch-alerts"
DASHBOARD_ID = "mediawatch-overview"

INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def _j(value: object) -> str:
    """Kibana stores nested state as JSON strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _envelope(obj_type: str, obj_id: str, attributes: dict, references: list[dict]) -> dict:
    return {
        "attributes": attributes,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "id": obj_id,
        "managed": False,
        "references": references,
        "type": obj_type,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[obj_type],
    }


def _search_source(query: str = "") -> str:
    return _j(
        {
            "filter": [],
            "indexRefName": INDEX_REF,
            "query": {"language": "kuery", "query": query},
        }
    )


def data_view(obj_id: str, pattern: str, time_field: str, name: str, field_formats: dict,
              hidden: tuple[str, ...] = ()) -> dict:
    return _envelope(
        "index-pattern",
        obj_id,
        {
            "fieldAttrs": "{}",
            "fieldFormatMap": _j(field_formats),
            "fields": "[]",  # Kibana reads the field list from the mapping
            "name": name,
            "runtimeFieldMap": "{}",
            "sourceFilters": _j([{"value": glob} for glob in hidden]),
            "timeFieldName": time_field,
            "title": pattern,
            "typeMeta": "{}",
        },
        [],
    )


# -- aggregations ---------------------------------------------------------------------------


def _count(agg_id: str = "1") -> dict:
    return {"enabled": True, "id": agg_id, "params": {}, "schema": "metric", "type": "count"}


def _date_histogram(agg_id: str, field: str, schema: str = "segment") -> dict:
    return {
        "enabled": True,
        "id": agg_id,
        "params": {
            "drop_partials": False,
            "extendToTimeRange": True,
            "extended_bounds": {},
            "field": field,
            "interval": "auto",
            "min_doc_count": 1,
            "scaleMetricValues": False,
            "useNormalizedEsInterval": True,
        },
        "schema": schema,
        "type": "date_histogram",
    }


def _terms(agg_id: str, field: str, schema: str, size: int, label: str, other: bool = False) -> dict:
    return {
        "enabled": True,
        "id": agg_id,
        "params": {
            "customLabel": label,
            "excludeIsRegex": True,
            "field": field,
            "includeIsRegex": True,
            "missingBucket": False,
            "missingBucketLabel": "Missing",
            "order": "desc",
            "orderBy": "1",
            "otherBucket": other,
            "otherBucketLabel": "Other",
            "size": size,
        },
        "schema": schema,
        "type": "terms",
    }


# -- visualizations -------------------------------------------------------------------------


def _xy_params(chart: str, mode: str, y_title: str) -> dict:
    return {
        "addLegend": True,
        "addTimeMarker": False,
        "addTooltip": True,
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "labels": {"filter": True, "show": True, "truncate": 100},
                "position": "bottom",
                "scale": {"type": "linear"},
                "show": True,
                "style": {},
                "title": {},
                "type": "category",
            }
        ],
        "detailedTooltip": True,
        "grid": {"categoryLines": False},
        "labels": {"show": False},
        "legendPosition": "right",
        "maxLegendLines": 1,
        "palette": {"name": "default", "type": "palette"},
        "radiusRatio": 0,
        "seriesParams": [
            {
                "circlesRadius": 1,
                "data": {"id": "1", "label": y_title},
                "drawLinesBetweenPoints": True,
                "interpolate": "linear",
                "lineWidth": 2,
                "mode": mode,
                "show": True,
                "showCircles": True,
                "type": chart,
                "valueAxis": "ValueAxis-1",
            }
        ],
        "thresholdLine": {"color": "#E7664C", "show": False, "style": "full", "value": 10, "width": 1},
        "times": [],
        "truncateLegend": True,
        "type": chart,
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "labels": {"filter": False, "rotate": 0, "show": True, "truncate": 100},
                "name": "LeftAxis-1",
                "position": "left",
                "scale": {"mode": "normal", "type": "linear"},
                "show": True,
                "style": {},
                "title": {"text": y_title},
                "type": "value",
            }
        ],
    }


def _table_params() -> dict:
    return {
        "autoFitRowToContent": False,
        "percentageCol": "",
        "perPage": 10,
        "showMetricsAtAllLevels": False,
        "showPartialRows": False,
        "showToolbar": True,
        "showTotal": False,
        "totalFunc": "sum",
    }


def visualization(obj_id: str, title: str, description: str, view_id: str, vis_type: str,
                  params: dict, aggs: list[dict]) -> dict:
    vis_state = {"aggs": aggs, "params": params, "title": title, "type": vis_type}
    return _envelope(
        "visualization",
        obj_id,
        {
            "description": description,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source()},
            "title": title,
            "uiStateJSON": "{}",
            "version": 1,
            "visState": _j(vis_state),
        },
        [{"id": view_id, "name": INDEX_REF, "type": "index-pattern"}],
    )


def saved_search(obj_id: str, title: str, description: str, view_id: str, columns: list[str],
                 sort: list[list[str]]) -> dict:
    return _envelope(
        "search",
        obj_id,
        {
            "columns": columns,
            "description": description,
            "grid": {},
            "hideChart": True,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source()},
            "sort": sort,
            "timeRestore": False,
            "title": title,
        },
        [{"id": view_id, "name": INDEX_REF, "type": "index-pattern"}],
    )


def dashboard(obj_id: str, title: str, description: str, panels: list[tuple[dict, dict]]) -> dict:
    """panels: (saved object, gridData) in layout order. References follow Kibana 8's own
    export format: panelRefName "panel_<i>", reference name "<panelIndex>:panel_<i>"."""
    panels_json = []
    references = []
    for i, (obj, grid) in enumerate(panels):
        panel_index = f"p{i + 1}"
        ref_name = f"panel_{panel_index}"
        panels_json.append(
            {
                "embeddableConfig": {"enhancements": {}},
                "gridData": {**grid, "i": panel_index},
                "panelIndex": panel_index,
                "panelRefName": ref_name,
                "type": obj["type"],
                "version": PANEL_VERSION,
            }
        )
        references.append({"id": obj["id"], "name": f"{panel_index}:{ref_name}", "type": obj["type"]})
    return _envelope(
        "dashboard",
        obj_id,
        {
            "description": description,
            "hits": 0,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": _j({"filter": [], "query": {"language": "kuery", "query": ""}})
            },
            "optionsJSON": _j(
                {
                    "hidePanelTitles": False,
                    "syncColors": False,
                    "syncCursor": True,
                    "syncTooltips": False,
                    "useMargins": True,
                }
            ),
            "panelsJSON": _j(panels_json),
            "refreshInterval": {"pause": False, "value": 60000},
            "timeFrom": "now-7d",
            "timeRestore": True,
            "timeTo": "now",
            "title": title,
            "version": 1,
        },
        references,
    )


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
        _xy_params("histogram", "stacked", "Articles"),
        [_count(), _date_histogram("2", "published_at"), _terms("3", "source", "group", 10, "Source", True)],
    )
    top_sources = visualization(
        "mediawatch-top-sources", "Top sources", "Sources by number of articles.",
        ARTICLES_VIEW, "table", _table_params(),
        [_count(), _terms("2", "source", "bucket", 25, "Source")],
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
        [_count(), _terms("2", "language", "segment", 12, "Language", True)],
    )
    top_tags = visualization(
        "mediawatch-top-tags", "Top tags", "Most frequent article tags.", ARTICLES_VIEW,
        "tagcloud",
        {"maxFontSize": 60, "minFontSize": 14, "orientation": "single",
         "palette": {"name": "default", "type": "palette"}, "scale": "linear", "showLabel": False},
        [_count(), _terms("2", "tags", "segment", 40, "Tag")],
    )
    top_sections = visualization(
        "mediawatch-top-sections", "Top sections", "Sections by number of articles, per source.",
        ARTICLES_VIEW, "table", _table_params(),
        [_count(), _terms("2", "section", "bucket", 20, "Section"),
         _terms("3", "source", "bucket", 3, "Source")],
    )
    latest = saved_search(
        "mediawatch-latest-articles", "Latest articles", "Newest articles first.", ARTICLES_VIEW,
        ["source", "title", "language", "section", "url"], [["published_at", "desc"]],
    )
    alert_hits = visualization(
        "mediawatch-alert-hits-over-time", "Alert hits over time",
        "Alert mails sent per interval, by rule.", ALERTS_VIEW, "histogram",
        _xy_params("histogram", "stacked", "Alert hits"),
        [_count(), _date_histogram("2", "sent_at"), _terms("3", "rule", "group", 10, "Rule", True)],
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
