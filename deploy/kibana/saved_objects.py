"""Kibana 8.x saved objects as the saved-objects API exports them: data views, legacy
aggregation-based visualizations (stable across 8.x, no Lens state to migrate) and their
aggregations, saved searches and dashboards. Standard library only; ``build_ndjson.py`` says which
objects mediawatch ships.

Migration versions: documents are stamped with the oldest 8.x versions whose shape they
follow; Kibana migrates older documents forward on import, never backwards, so the file
imports into any Kibana from 8.9 to 8.19.
"""

from __future__ import annotations

import json

CORE_MIGRATION_VERSION = "8.8.0"  # frozen by Kibana at 8.8.0 for the whole 8.x line
TYPE_MIGRATION_VERSION = {
    "index-pattern": "8.0.0",
    "visualization": "8.5.0",
    "search": "8.0.0",
    "dashboard": "8.9.0",
}
PANEL_VERSION = "8.9.0"

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


def count(agg_id: str = "1") -> dict:
    return {"enabled": True, "id": agg_id, "params": {}, "schema": "metric", "type": "count"}


def date_histogram(agg_id: str, field: str, schema: str = "segment") -> dict:
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


def terms(agg_id: str, field: str, schema: str, size: int, label: str, other: bool = False) -> dict:
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


def xy_params(chart: str, mode: str, y_title: str) -> dict:
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


def table_params() -> dict:
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
