"""Structural checks of deploy/kibana/mediawatch.ndjson (Kibana can't run here).

Every line is a saved object; every reference resolves inside the file; the dashboard's
panels and references agree; every field a visualization or saved search uses exists in
our index mapping (and is aggregatable where it is aggregated); migration versions are
valid for Kibana 8.x; the committed file is what the generator produces.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.article import FIELDS

ROOT = Path(__file__).resolve().parents[2]
KIBANA_DIR = ROOT / "deploy" / "kibana"
NDJSON = KIBANA_DIR / "mediawatch.ndjson"
GENERATOR = KIBANA_DIR / "build_ndjson.py"

ARTICLES_PATTERN = "mediawatch-articles"
ALERTS_PATTERN = "mediawatch-alerts"
# The alert-hit documents (see the alerting code): field -> Elasticsearch type.
ALERTS_FIELDS_FALLBACK = {
    "rule": "keyword",
    "article_id": "keyword",
    "source": "keyword",
    "title": "text",
    "url": "keyword",
    "sent_at": "date",
    "mode": "keyword",
}
FIELD_KIND_TO_ES = {"text": "text", "keyword": "keyword", "date": "date", "integer": "integer", "stored": "keyword"}
NOT_AGGREGATABLE = {"text", "match_only_text", "annotated_text"}
SEMVER_8 = re.compile(r"^8\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
LEGACY_VIS_TYPES = {"histogram", "line", "area", "horizontal_bar", "pie", "table", "tagcloud",
                    "metric", "gauge", "goal", "heatmap", "markdown"}
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


# -- the mapping ------------------------------------------------------------------------------


def _flatten(properties: dict, prefix: str = "") -> dict[str, str]:
    """{"a": {"type": "text", "fields": {"folded": {...}}}} -> {"a": "text", "a.folded": "text"}."""
    out: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            out.update(_flatten(spec["properties"], f"{path}."))
            if "type" not in spec:
                continue
        out[path] = spec.get("type", "object")
        for sub, sub_spec in (spec.get("fields") or {}).items():
            out[f"{path}.{sub}"] = sub_spec.get("type", "object")
    return out


def _properties(mapping: object) -> dict | None:
    """Find "properties" in what a backend exposes: a mapping, a template body, a template."""
    if not isinstance(mapping, dict):
        return None
    if isinstance(mapping.get("properties"), dict):
        return mapping["properties"]
    for key in ("mappings", "template"):
        found = _properties(mapping.get(key))
        if found:
            return found
    return None


def _backend_mapping(func_name: str) -> dict[str, str] | None:
    try:
        from indexer.backends import elasticsearch as es_backend  # noqa: PLC0415
    except Exception:  # noqa: BLE001 - not written yet, or its deps missing: use the fallback
        return None
    func = getattr(es_backend, func_name, None)
    if not callable(func):
        return None
    try:
        props = _properties(func())
    except TypeError:
        return None
    return _flatten(props) if props else None


def article_fields() -> dict[str, str]:
    """Field -> ES type of the articles index: the backend's mapping when it exposes one."""
    fields = _backend_mapping("article_mapping")
    if fields is None:
        fields = {name: FIELD_KIND_TO_ES[kind] for name, kind in FIELDS.items()}
        for name, kind in FIELDS.items():  # the analysed text fields may get a folded twin
            if kind == "text":
                fields[f"{name}.folded"] = "text"
    return fields


def alerts_fields() -> dict[str, str]:
    fields = _backend_mapping("alerts_mapping")
    return fields if fields is not None else dict(ALERTS_FIELDS_FALLBACK)


def test_fallback_mapping_is_what_the_article_record_declares():
    fields = article_fields()
    for name in FIELDS:
        assert name in fields, f"{name} of indexer.article.FIELDS missing from the ES mapping"


# -- the file ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    assert NDJSON.is_file(), f"{NDJSON} missing: run python {GENERATOR.relative_to(ROOT)}"
    out = []
    for lineno, line in enumerate(NDJSON.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"line {lineno} is blank"
        try:
            obj = json.loads(line)
        except ValueError as exc:
            pytest.fail(f"line {lineno} is not valid JSON: {exc}")
        assert isinstance(obj, dict), f"line {lineno} is not an object"
        out.append(obj)
    return out


@pytest.fixture(scope="module")
def by_key(objects) -> dict[tuple[str, str], dict]:
    return {(o["type"], o["id"]): o for o in objects}


def _of_type(objects, obj_type):
    return [o for o in objects if o["type"] == obj_type]


def _search_source(obj) -> dict:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def _index_pattern_of(obj, by_key) -> dict:
    source = _search_source(obj)
    ref_name = source.get("indexRefName")
    assert ref_name, f"{obj['type']}:{obj['id']} has no indexRefName in its searchSourceJSON"
    refs = [r for r in obj["references"] if r["name"] == ref_name]
    assert len(refs) == 1, f"{obj['type']}:{obj['id']}: {len(refs)} references named {ref_name}"
    ref = refs[0]
    assert ref["type"] == "index-pattern"
    return by_key[("index-pattern", ref["id"])]


def _fields_for(pattern_obj) -> dict[str, str]:
    title = pattern_obj["attributes"]["title"]
    if title == ARTICLES_PATTERN:
        return article_fields()
    if title == ALERTS_PATTERN:
        return alerts_fields()
    pytest.fail(f"data view on {title!r} is neither the articles alias nor the alerts index")


def test_every_line_is_a_saved_object(objects):
    assert objects, "no saved objects"
    for obj in objects:
        for key in ("type", "id", "attributes", "references"):
            assert key in obj, f"{obj.get('type')}:{obj.get('id')} lacks {key}"
        assert isinstance(obj["id"], str) and obj["id"]
        assert isinstance(obj["attributes"], dict)
        assert isinstance(obj["references"], list)
        assert obj["attributes"].get("title"), f"{obj['type']}:{obj['id']} has no title"
        assert "exportedCount" not in obj


def test_ids_are_unique(objects):
    keys = [(o["type"], o["id"]) for o in objects]
    assert len(keys) == len(set(keys))


def test_every_reference_resolves_within_the_file(objects, by_key):
    for obj in objects:
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), f"{obj['type']}:{obj['id']} repeats reference names"
        for ref in obj["references"]:
            assert set(ref) >= {"id", "name", "type"}, ref
            assert (ref["type"], ref["id"]) in by_key, (
                f"{obj['type']}:{obj['id']} references {ref['type']}:{ref['id']} ({ref['name']}), "
                "which is not in the file"
            )


def test_search_sources_point_at_a_data_view(objects, by_key):
    for obj in _of_type(objects, "visualization") + _of_type(objects, "search"):
        source = _search_source(obj)
        assert "index" not in source, "index ids belong in references, not inline"
        _index_pattern_of(obj, by_key)


def test_data_views(objects):
    views = {o["attributes"]["title"]: o for o in _of_type(objects, "index-pattern")}
    assert set(views) == {ARTICLES_PATTERN, ALERTS_PATTERN}
    assert views[ARTICLES_PATTERN]["attributes"]["timeFieldName"] == "published_at"
    assert views[ALERTS_PATTERN]["attributes"]["timeFieldName"] == "sent_at"
    hidden = [f["value"] for f in json.loads(views[ARTICLES_PATTERN]["attributes"]["sourceFilters"])]
    assert hidden == ["*_folded"]
    for title, view in views.items():
        fields = _fields_for(view)
        time_field = view["attributes"]["timeFieldName"]
        assert fields.get(time_field) == "date", f"{title}: time field {time_field} is not a date"
        for name in json.loads(view["attributes"].get("fieldFormatMap") or "{}"):
            assert name in fields, f"{title}: field format for unknown field {name}"


def test_dashboard_panels_match_references(objects, by_key):
    boards = _of_type(objects, "dashboard")
    assert len(boards) == 1
    board = boards[0]
    panels = json.loads(board["attributes"]["panelsJSON"])
    assert panels
    refs = {r["name"]: r for r in board["references"]}
    used: set[str] = set()
    indexes = [p["panelIndex"] for p in panels]
    assert len(indexes) == len(set(indexes)), "panelIndex values must be unique"
    for panel in panels:
        assert "id" not in panel, "panel ids belong in references (panelRefName), not inline"
        ref_name = panel["panelRefName"]
        # Kibana 8 writes "<panelIndex>:<panelRefName>"; 7.x exports used the bare name.
        candidates = [n for n in (f"{panel['panelIndex']}:{ref_name}", ref_name) if n in refs]
        assert len(candidates) == 1, f"panel {panel['panelIndex']}: no single reference for {ref_name}"
        ref = refs[candidates[0]]
        used.add(candidates[0])
        assert ref["type"] == panel["type"], f"panel {panel['panelIndex']} is {panel['type']}, ref {ref['type']}"
        assert (ref["type"], ref["id"]) in by_key
        assert panel["gridData"]["i"] == panel["panelIndex"]
    assert used == set(refs), f"dashboard references no panel uses: {set(refs) - used}"


def test_dashboard_layout_fits_the_grid(objects):
    board = _of_type(objects, "dashboard")[0]
    cells: set[tuple[int, int]] = set()
    for panel in json.loads(board["attributes"]["panelsJSON"]):
        g = panel["gridData"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0
        assert g["x"] + g["w"] <= 48, f"panel {panel['panelIndex']} overflows the 48-column grid"
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not (cells & mine), f"panel {panel['panelIndex']} overlaps another"
        cells |= mine


def test_dashboard_shows_every_visualization_and_search(objects):
    board = _of_type(objects, "dashboard")[0]
    shown = {(r["type"], r["id"]) for r in board["references"]}
    for obj in _of_type(objects, "visualization") + _of_type(objects, "search"):
        assert (obj["type"], obj["id"]) in shown, f"{obj['attributes']['title']} is not on the dashboard"


def test_dashboard_has_the_panels_the_issue_asks_for(objects):
    titles = {o["attributes"]["title"] for o in objects if o["type"] in ("visualization", "search")}
    for wanted in ("Articles over time by source", "Top sources", "Languages", "Top tags",
                   "Top sections", "Latest articles", "Alert hits over time"):
        assert wanted in titles


def test_visualization_fields_exist_in_the_mapping(objects, by_key):
    for vis in _of_type(objects, "visualization"):
        state = json.loads(vis["attributes"]["visState"])
        title = vis["attributes"]["title"]
        assert state["type"] in LEGACY_VIS_TYPES, f"{title}: unexpected vis type {state['type']}"
        assert state["title"] == title
        json.loads(vis["attributes"].get("uiStateJSON") or "{}")
        fields = _fields_for(_index_pattern_of(vis, by_key))
        agg_ids = [a["id"] for a in state["aggs"]]
        assert len(agg_ids) == len(set(agg_ids)), f"{title}: duplicate agg ids"
        for agg in state["aggs"]:
            field = agg.get("params", {}).get("field")
            if agg["type"] == "count":
                assert field is None
                continue
            assert field, f"{title}: {agg['type']} agg without a field"
            assert field in fields, f"{title}: field {field!r} is not in the index mapping"
            assert fields[field] not in NOT_AGGREGATABLE, f"{title}: {field!r} is text, not aggregatable"
            if agg["type"] == "date_histogram":
                assert fields[field] == "date", f"{title}: date_histogram on non-date {field!r}"
            order_by = agg["params"].get("orderBy")
            if order_by and order_by not in ("_key", "alphabetical", "custom"):
                assert order_by in agg_ids, f"{title}: orders by missing agg {order_by}"


def test_saved_search_fields_exist_in_the_mapping(objects, by_key):
    searches = _of_type(objects, "search")
    assert searches
    for search in searches:
        attrs = search["attributes"]
        fields = _fields_for(_index_pattern_of(search, by_key))
        for column in attrs["columns"]:
            assert column in fields, f"{attrs['title']}: column {column!r} not in the mapping"
        for field, direction in attrs.get("sort", []):
            assert field in fields and fields[field] not in NOT_AGGREGATABLE, field
            assert direction in ("asc", "desc")


def test_migration_versions_are_kibana_8(objects):
    for obj in objects:
        where = f"{obj['type']}:{obj['id']}"
        for key in ("coreMigrationVersion", "typeMigrationVersion"):
            assert key in obj, f"{where} lacks {key}"
            assert SEMVER_8.match(obj[key]), f"{where}: {key}={obj[key]!r} is not an 8.x version"
        # core migration version stops at 8.8.0 for 8.x; a type can't be newer than 8.19
        assert _version(obj["coreMigrationVersion"]) <= (8, 8, 0)
        assert _version(obj["typeMigrationVersion"]) <= (8, 19, 99)
        for value in (obj.get("migrationVersion") or {}).values():  # pre-8.8 style, if any
            assert SEMVER_8.match(value), f"{where}: migrationVersion {value!r}"
    for board in _of_type(objects, "dashboard"):
        for panel in json.loads(board["attributes"]["panelsJSON"]):
            assert SEMVER_8.match(panel["version"]), f"panel {panel['panelIndex']}: {panel['version']!r}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_committed_file_is_what_the_generator_writes():
    # run as the docs say, a script beside its saved_objects module, from another folder
    made = subprocess.run([sys.executable, str(GENERATOR), "--stdout"], cwd=ROOT.parent, capture_output=True,
                          text=True, encoding="utf-8", check=True).stdout
    assert made == NDJSON.read_text(encoding="utf-8"), (
        f"{NDJSON.name} is stale: run python {GENERATOR.relative_to(ROOT)}"
    )
