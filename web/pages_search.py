"""The search page (query, filters, coverage chart, results, pages), its exports and the article page."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import structlog
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from indexer.article import language_codes
from indexer.backends.base import BackendError
from indexer.query import MatchAll, Node, QueryError, operator_words, parse
from web import chart
from web.pages import render, services_of, unavailable

log = structlog.get_logger("mediawatch.web")

PAGE_SIZE = 20
MAX_PAGE = 50  # deeper pages cost the backend more than a narrower query costs the reader
EXPORT_LIMIT = 10_000
EXPORT_FIELDS = ("published_at", "source", "language", "title", "authors", "url", "id")


@dataclass
class SearchForm:
    q: str = ""
    sources: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None  # exclusive: the day after the "to" date the reader picked
    since_text: str = ""
    until_text: str = ""
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, params: QueryParams) -> "SearchForm":
        form = cls(q=params.get("q", "")[:2000])
        form.sources = [s for s in params.getlist("source") if s]
        form.languages, _ = language_codes(params.getlist("lang"))
        form.since_text, form.until_text = params.get("since", ""), params.get("until", "")
        form.since = form._day(form.since_text, "from")
        until = form._day(form.until_text, "to")
        try:
            form.until = until + timedelta(days=1) if until else None
        except OverflowError:  # the last day a date can name: no end at all
            form.until = None
        try:
            form.page = min(max(int(params.get("page", "1")), 1), MAX_PAGE)
        except ValueError:
            form.page = 1
        return form

    def _day(self, text: str, label: str) -> datetime | None:
        if not text:
            return None
        try:
            return datetime.combine(date.fromisoformat(text), time(0), timezone.utc)
        except ValueError:
            self.problems.append(f"the '{label}' date {text!r} is not a date (YYYY-MM-DD): ignored")
            return None

    def filters(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "sources": self.sources or None,
                "languages": self.languages or None}

    def link(self, **changes: Any) -> str:
        params: list[tuple[str, str]] = [("q", self.q)]
        params += [("source", s) for s in self.sources]
        if self.languages:
            params.append(("lang", ",".join(self.languages)))
        params += [("since", self.since_text), ("until", self.until_text)]
        params.append(("page", str(changes.get("page", self.page))))
        return urlencode([(k, v) for k, v in params if v])


def _parse(q: str) -> Node | None:
    node = parse(q) if q.strip() else None
    # "*" alone is no filter at all: without it SQLite counts from its indexes instead of matching every row.
    return None if isinstance(node, MatchAll) else node


def _caret(q: str, err: QueryError) -> dict[str, Any]:
    pos = max(0, min(err.position, len(q)))
    return {"message": err.message, "position": pos, "before": q[:pos], "at": q[pos:pos + 1] or " ",
            "after": q[pos + 1:]}


def search_page(request: Request) -> Response:
    services = services_of(request)
    backend = services.backend()
    if backend is None:
        return unavailable(request, "the daemon is still opening its stores")
    form = SearchForm.read(request.query_params)
    known_sources = sorted({*(s.name for s in services.sources()), *form.sources})  # a choice is never lost
    context: dict[str, Any] = {"form": form, "known_sources": known_sources, "hits": [], "total": None,
                               "chart": chart.build({}), "query_error": None, "backend_error": None,
                               "has_next": False, "capped": False, "operator_words": operator_words(form.q)}
    try:
        node = _parse(form.q)
    except QueryError as err:
        context["query_error"] = _caret(form.q, err)
        return render(request, "search.html", context, status=400)
    try:
        context["known_sources"] = sorted({*known_sources, *backend.source_names()})
        filters = form.filters()
        context["total"] = backend.count(node, **filters)
        # The backends page by limit only: ask for this page's end (and one more) and keep its slice.
        # One hit per story (its copies counted in hit.copies; the article page lists them).
        hits = backend.search(node, **filters, limit=form.page * PAGE_SIZE + 1, collapse=True)
        more = len(hits) > form.page * PAGE_SIZE
        context["has_next"] = more and form.page < MAX_PAGE
        context["capped"] = more and form.page >= MAX_PAGE
        context["hits"] = hits[(form.page - 1) * PAGE_SIZE: form.page * PAGE_SIZE]
        hourly = bool(form.since and form.until and form.until - form.since <= chart.SHORT_RANGE)
        context["chart"] = chart.build(backend.counts_per_day(node, **filters, hourly=hourly), hourly)
    except BackendError as err:
        log.warning("web_search_failed", query=form.q, error=str(err)[:300])
        context["backend_error"] = str(err)[:300]
        return render(request, "search.html", context, status=503)
    return render(request, "search.html", context)


def _export_rows(request: Request) -> tuple[list[dict[str, Any]] | None, Response | None]:
    backend = services_of(request).backend()
    if backend is None:
        return None, unavailable(request, "the daemon is still opening its stores")
    form = SearchForm.read(request.query_params)
    if form.problems:  # the page shows them beside the list; a file has nowhere to say them
        return None, Response("; ".join(form.problems) + "\n", 400, media_type="text/plain")
    try:
        hits = backend.search(_parse(form.q), **form.filters(), limit=EXPORT_LIMIT)
    except QueryError as err:
        return None, Response(f"invalid query: {err}\n", 400, media_type="text/plain")
    except BackendError as err:
        return None, Response(f"index unavailable: {err}\n", 503, media_type="text/plain")
    rows = []
    for hit in hits:
        a = hit.article
        rows.append({"published_at": a.published_at.isoformat() if a.published_at else "", "source": a.source,
                     "language": a.language, "title": a.title, "authors": a.authors, "url": a.url, "id": a.id})
    return rows, None


# Where a spreadsheet that splits at ";" or a tab (the usual separator in many locales) would start a cell
_CELL_STARTS = re.compile(r"([;\t]\s*)(?=[=+\-@])")


def _spreadsheet_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: a title must stay a title, also where a
    # spreadsheet reading the file with another separator would start a cell mid-title.
    value = _CELL_STARTS.sub(r"\1'", value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(request: Request) -> Response:
    rows, error = _export_rows(request)
    if error is not None:
        return error
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _spreadsheet_safe("; ".join(v) if isinstance(v, list) else str(v)) for k, v in row.items()})
    return Response(out.getvalue(), 200, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="mediawatch-search.csv"'})


def export_json(request: Request) -> Response:
    rows, error = _export_rows(request)
    if error is not None:
        return error
    return Response(json.dumps(rows, ensure_ascii=False), 200, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="mediawatch-search.json"'})


def article_page(request: Request) -> Response:
    backend = services_of(request).backend()
    if backend is None:
        return unavailable(request, "the daemon is still opening its stores")
    article_id = request.path_params["id"]
    try:
        article = backend.get(article_id)
    except BackendError as err:
        return unavailable(request, f"index unavailable: {err}")
    if article is None:
        return render(request, "not_found.html", {}, status=404)
    others = []
    if article.story_id:
        try:
            copies = backend.story_articles([article.story_id]).get(article.story_id, [])
            others = [a for a in copies if a.id != article.id]
        except BackendError as err:
            log.warning("web_story_lookup_failed", article=article.id, error=str(err)[:300])
    paragraphs = [p.strip() for p in article.text.split("\n") if p.strip()]
    return render(request, "article.html", {"a": article, "paragraphs": paragraphs, "others": others})


routes = [
    Route("/", search_page),
    Route("/export.csv", export_csv),
    Route("/export.json", export_json),
    Route("/article/{id}", article_page, name="article"),
]
