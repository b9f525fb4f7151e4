"""Rules in the browser: list, create or edit with a preview, enable/disable, and an Atom feed per rule.

A rule is saved as one YAML file in the rules folder (``rules_dir``), validated as the config validates
rules; the daemon's RuleSet re-reads the folder, so a saved rule alerts without a restart.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import structlog
import yaml
from feedgen.feed import FeedGenerator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from indexer.alerts.channels import display, private_target
from indexer.alerts.rules import Rule, RuleError, env_references, validate_rule, with_env
from indexer.backends.base import BackendError
from indexer.query import clean_text
from web.pages import render, services_of, unavailable
from web.pages_search import SearchForm
from web.safety import feed_link, rule_path, safe_href

log = structlog.get_logger("mediawatch.web")

PREVIEW_LIMIT = 1000  # matches a preview lists and counts mails from
PREVIEW_SHOWN = 20
FEED_ENTRIES = 50
MODES = ("instant", "hourly", "daily")


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


def _form_data(form) -> dict[str, Any]:
    data: dict[str, Any] = {"name": (form.get("name") or "").strip(), "query": form.get("query") or "",
                            "recipients": _split(form.get("recipients") or ""),
                            "sources": _split(form.get("sources") or ""),
                            "languages": _split(form.get("languages") or ""),
                            "mode": form.get("mode") or "instant", "enabled": form.get("enabled") == "on"}
    daily_at = (form.get("daily_at") or "").strip()
    if daily_at and (daily_at != "08:00" or data["mode"] == "daily"):  # the default said only where it matters
        data["daily_at"] = daily_at
    if (form.get("timezone") or "").strip():
        data["timezone"] = form.get("timezone").strip()
    # One Apprise URL a line, as typed: URLs may hold commas, and "${ENV}" references stay
    # references in the file (the secret itself never reaches the page or the rules folder).
    notify = [line.strip() for line in (form.get("notify") or "").splitlines() if line.strip()]
    if notify:
        data["notify"] = notify
    if (form.get("description") or "").strip():
        data["description"] = form.get("description").strip()
    return data


# The variables a rule saved from the browser may name in a channel's URL: the operator set them for the
# app's channels. Any other (the web token, the SMTP password) would be sent wherever the URL points.
NOTIFY_ENV_PREFIX = "MEDIAWATCH_NOTIFY_"
# What the form edits; every other key of a rule file (backfill, created_at, ...) is kept as written.
FORM_KEYS = frozenset({"name", "query", "recipients", "sources", "languages", "mode", "enabled", "daily_at",
                       "timezone", "notify", "description"})


def _as_written(path: Path) -> dict[str, Any] | None:
    """The file's one rule as written (``${ENV}`` references unexpanded), or None when the file holds
    several rules or cannot be read: the app edits a rule only as a whole file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if isinstance(raw, dict) and "rules" in raw and "query" not in raw:  # the {rules: [...]} form
        raw = raw["rules"]
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if not isinstance(raw, dict):
        return None
    return {"name": path.stem, **raw}  # a file's one rule is named after the file unless it says


def _days(form) -> int:
    try:
        return min(max(int(form.get("days") or 7), 1), 365)
    except ValueError:
        return 7


def _file_of(services, name: str) -> Path | None:
    """The rules-folder file that defines ``name`` alone; None for a rule of the config file or of a
    file holding several rules (edited by hand)."""
    rules = services.rules()
    if rules is None or services.rules_dir is None or not rules.alone(name):
        return None
    return Path(rules.origin(name))


def rules_list(request: Request) -> Response:
    services = services_of(request)
    rules, backend = services.rules(), services.backend()
    if rules is None or backend is None:
        return unavailable(request, "the daemon is still opening its stores")
    rules.refresh()
    now = datetime.now(timezone.utc)
    ledger = services.ledger()
    last_sent = {rule: datetime.fromtimestamp(at, timezone.utc)
                 for rule, at in (ledger.last_sent() if ledger is not None else {}).items()}
    rows = []
    for rule in rules.rules():
        counts = {}
        for label, days in (("day", 1), ("week", 7)):
            try:
                counts[label] = backend.count(rule.query, since=now - timedelta(days=days),
                                              sources=rule.sources or None, languages=rule.languages or None)
            except BackendError as err:
                log.warning("web_rule_count_failed", rule=rule.name, error=str(err)[:300])
                counts[label] = "?"
        search = SearchForm(q=rule.query, sources=list(rule.sources), languages=list(rule.languages))
        origin = rules.origin(rule.name)
        rows.append({"rule": rule, "counts": counts, "last_sent": last_sent.get(rule.name),
                     "search": "/?" + search.link(), "feed": feed_link(services.token, rule.name),
                     "editable": _file_of(services, rule.name) is not None,
                     "file": Path(origin).name if origin else None})
    errors = [str(e) for e in rules.errors.values()]
    saved = request.query_params.get("saved", "")
    return render(request, "rules.html", {"rows": rows, "errors": errors, "rules_dir": services.rules_dir,
                                          "saved": saved if rules.get(saved) is not None else ""})


def _blank() -> dict[str, Any]:
    return {"name": "", "query": "", "recipients": [], "sources": [], "languages": [], "mode": "instant",
            "enabled": True, "daily_at": "08:00", "timezone": "", "description": "", "notify": []}


def rule_new(request: Request) -> Response:
    return render(request, "rule_form.html", {"data": _blank(), "days": 7, "preview": None, "error": None,
                                              "editing": False, "modes": MODES})


def rule_edit(request: Request) -> Response:
    services = services_of(request)
    name = request.path_params["name"]
    rules = services.rules()
    if rules is not None:
        rules.refresh()  # the file may have changed since the list was shown
    path = _file_of(services, name)
    rule = rules.get(name) if rules is not None else None
    if rule is None:
        return render(request, "not_found.html", {}, status=404)
    if path is None:
        where = rules.origin(name)
        return render(request, "unavailable.html", {"why": f"rule {name} is defined in "
                      + (f"{Path(where).name}, with other rules" if where else "the config file")
                      + ": edit it there"}, status=409)
    data = rule.model_dump(include={"name", "query", "recipients", "sources", "languages", "mode", "enabled",
                                    "daily_at", "description"})
    written = _as_written(path) or {}
    data["timezone"] = written.get("timezone") or ""
    data["notify"] = [str(e) for e in written.get("notify") or []]  # as written: ${ENV} references stay
    return render(request, "rule_form.html", {"data": data, "days": 7, "preview": None, "error": None,
                                              "editing": True, "modes": MODES})


def _preview(backend, rule: Rule, days: int) -> dict[str, Any]:
    since = datetime.now(timezone.utc) - timedelta(days=days)
    filters = {"since": since, "sources": rule.sources or None, "languages": rule.languages or None}
    total = backend.count(rule.query, **filters)
    hits = backend.search(rule.query, **filters, limit=PREVIEW_LIMIT)
    stories = {h.article.story_id or h.article.id for h in hits}
    if rule.mode == "instant":
        mails = len(stories)
    else:  # one digest per hour or day that had a match
        width = 13 if rule.mode == "hourly" else 10
        mails = len({(h.article.published_at or h.article.indexed_at).isoformat()[:width] for h in hits})
    return {"total": total, "hits": hits[:PREVIEW_SHOWN], "stories": len(stories), "mails": mails,
            "days": days, "capped": total > PREVIEW_LIMIT}


def _validate(services, data: dict[str, Any], editing: bool) -> tuple[Rule | None, Path | None, dict, str | None]:
    """The rule, the file it is saved to and the file's content; or the error to show. A new rule gets a
    file of its own and never replaces one; an edited rule keeps its file's keys the form does not show."""
    if services.rules_dir is None:
        return None, None, data, "no rules folder: set rules_dir in the config to save rules from here"
    services.rules().refresh()
    try:
        new_path = rule_path(services.rules_dir, data["name"])
    except ValueError as err:
        return None, None, data, str(err)
    written: dict[str, Any] = {}
    if editing:
        path = _file_of(services, data["name"])
        if path is None:
            return None, None, data, (f"rule {data['name']!r} is not in a file of its own in the rules folder: "
                                      "edit it where it is defined")
        written = _as_written(path) or {}
        data = {**{k: v for k, v in written.items() if k not in FORM_KEYS}, **data}
    else:
        path = new_path
        if services.rules().get(data["name"]) is not None:
            return None, None, data, f"a rule named {data['name']!r} exists already"
        if path.exists():
            return None, None, data, f"the rules folder has a file {path.name} already: choose another name"
    added = {n for n in _references(data) - _references(written) if not n.startswith(NOTIFY_ENV_PREFIX)}
    if added:
        return None, None, data, (f"{', '.join(sorted(f'${{{n}}}' for n in added))}: the daemon fills in such a reference "
                                  f"from its own environment, so the app takes only the variables named "
                                  f"{NOTIFY_ENV_PREFIX}* for it (one already in the file is kept); "
                                  "or type the channel's URL as it is")
    try:
        rule = validate_rule(data, file=path.name)
    except (RuleError, ValueError) as err:
        return None, None, data, str(err)
    try:  # the references filled in as the rules folder fills them when the daemon reads the file
        filled = with_env(data, path.name, "")
    except RuleError as err:
        return None, None, data, (f"{err}: the daemon could not load this rule; set the variable in its environment "
                                  "(and this app's), or type the channel's URL as it is")
    error = _private_notify(data, filled, written, services.notify_networks())
    if error is not None:
        return None, None, data, error
    return rule, path, data, None


def _private_notify(data: dict[str, Any], filled: dict[str, Any], written: dict[str, Any],
                    allowed: Sequence[str]) -> str | None:
    """Why a notify URL typed in the form would have the daemon post into the network it runs in, or None. The
    URLs the rule's file already holds are the operator's (the config file's are never seen here)."""
    known = written.get("notify") if isinstance(written.get("notify"), list) else []
    for typed, url in zip(data.get("notify") or [], filled.get("notify") or []):
        if typed in known:
            continue
        address = private_target(url, allowed)
        if address is not None:
            return (f"{display(typed)} reaches {address}, an address of this machine or a private network: add "
                    "its network to http.notify_networks in the config to let the app save it")
    return None


def _references(data: dict[str, Any]) -> set[str]:
    # A browser may not make the daemon send its environment (the web token, the SMTP password) anywhere.
    notify = data.get("notify")
    return {n for url in (notify if isinstance(notify, list) else []) if isinstance(url, str) for n in env_references(url)}


async def rule_submit(request: Request) -> Response:
    """Preview (the default button) or save, from the same form."""
    services = services_of(request)
    backend = services.backend()
    if backend is None or services.rules() is None:
        return unavailable(request, "the daemon is still opening its stores")
    form = await request.form()
    data, days = _form_data(form), _days(form)
    editing = form.get("editing") == "1"
    context = {"data": {**_blank(), **data}, "days": days, "preview": None, "error": None, "editing": editing,
               "modes": MODES}
    rule, path, data, error = await run_in_threadpool(_validate, services, data, editing)
    if error is not None:
        context["error"] = error
        return render(request, "rule_form.html", context, status=400)
    if form.get("action") == "save":
        # The rule starts when it is saved, not when the daemon's next batch first sees the file: an
        # article indexed in between is news to it too.
        data["created_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        await run_in_threadpool(_write_rule, services, path, rule, data)
        return RedirectResponse(f"/rules?saved={rule.name}", 303)
    try:
        context["preview"] = await run_in_threadpool(_preview, backend, rule, days)
    except BackendError as err:
        context["error"] = f"the index did not answer: {err}"
        return render(request, "rule_form.html", context, status=503)
    return render(request, "rule_form.html", context)


def _write_rule(services, path: Path, rule: Rule, data: dict[str, Any]) -> None:
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    # A dot file first (the RuleSet skips those), then one rename: the daemon never reads half a rule.
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    services.rules().refresh()
    log.info("web_rule_saved", rule=rule.name, path=str(path), enabled=rule.enabled)


async def rule_toggle(request: Request) -> Response:
    """Flip ``enabled`` in the rule's file, the rest of it kept as written (``${ENV}`` references too)."""
    services = services_of(request)
    name = request.path_params["name"]
    rules = services.rules()
    if rules is not None:
        rules.refresh()
    path = _file_of(services, name)
    rule = rules.get(name) if rules is not None else None
    if path is None or rule is None:
        return render(request, "not_found.html", {}, status=404)
    data = _as_written(path) or {}
    data["enabled"] = not rule.enabled
    try:
        toggled = validate_rule(data, file=path.name)
    except RuleError as err:
        return render(request, "unavailable.html", {"why": str(err)}, status=409)
    await run_in_threadpool(_write_rule, services, path, toggled, data)
    return RedirectResponse("/rules", 303)


def rule_feed(request: Request) -> Response:
    services = services_of(request)
    name = request.path_params["name"]
    rules, backend = services.rules(), services.backend()
    if rules is None or backend is None:
        return Response("starting\n", 503, media_type="text/plain")
    rules.refresh()
    rule = rules.get(name)
    if rule is None:
        return Response("no such rule\n", 404, media_type="text/plain")
    try:
        hits = backend.search(rule.query, sources=rule.sources or None, languages=rule.languages or None,
                              limit=FEED_ENTRIES)
    except BackendError as err:
        return Response(f"index unavailable: {err}\n", 503, media_type="text/plain")
    fg = FeedGenerator()
    fg.id(f"urn:mediawatch:rule:{rule.name}")
    fg.title(f"mediawatch: {rule.name}")
    fg.subtitle(clean_text(rule.query))  # one line, nothing XML cannot hold
    fg.link(href=str(request.url), rel="self")
    fg.link(href=str(request.url_for("rules_list")), rel="alternate")
    newest = None
    for hit in reversed(hits):  # feedgen prepends: the newest ends first
        a = hit.article
        when = a.published_at or a.indexed_at or datetime.now(timezone.utc)
        changed = a.indexed_at or when  # an entry's <updated>; the feed's is the newest of them
        newest = max(newest, changed) if newest else changed
        fe = fg.add_entry()
        fe.id(f"urn:mediawatch:article:{a.id}")
        fe.title(clean_text(a.title) or "(no title)")
        # an imported saved page may have no web address: the entry links to its page in the app
        fe.link(href=safe_href(a.url) or str(request.url_for("article", id=a.id)))
        fe.updated(changed)
        fe.published(when)
        fe.author({"name": clean_text(", ".join(a.authors) or a.source)})
        fe.summary(clean_text(a.text)[:500])
    fg.updated(newest or datetime.now(timezone.utc))
    return Response(fg.atom_str(pretty=True), 200, media_type="application/atom+xml")


routes = [
    Route("/rules", rules_list, name="rules_list"),
    Route("/rules/new", rule_new),
    Route("/rules/submit", rule_submit, methods=["POST"]),
    Route("/rules/{name}/edit", rule_edit),
    Route("/rules/{name}/toggle", rule_toggle, methods=["POST"]),
    Route("/rules/{name}/feed.atom", rule_feed),
]
