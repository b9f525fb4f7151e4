"""One handler per CLI command: (config, args) -> exit code."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import structlog
import yaml

from scheduler.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError
from scheduler.config import Config, effective, unknown_rule_sources
from scheduler.cli_alerts import cmd_alerts_backfill, cmd_alerts_list, cmd_alerts_send_test, cmd_alerts_test, rule_set
from scheduler.cli_cluster import cmd_cluster_status
from scheduler.cli_search import cmd_search, open_backend, out
from scheduler.sourcesadd import cmd_sources_add

log = structlog.get_logger("mediawatch.cli")


def cmd_run(cfg: Config, args) -> int:
    from scheduler.daemon import Daemon
    from scheduler.config import config_path

    return Daemon(cfg, config_path(args.config)).run()


def cmd_web(cfg: Config, args) -> int:
    from scheduler.webapp import Standalone, check_bind, web_token
    from web.safety import BindRefused
    from web.server import PortUnavailable, serve_forever

    host = args.host or cfg.http.host
    port = args.port if args.port is not None else (cfg.http.port if cfg.http.port is not None else 9410)
    try:
        check_bind(host, web_token())
    except BindRefused as err:
        raise UsageError(str(err)) from None
    web = Standalone(cfg)
    try:
        serve_forever(web.app(), host, port)
    except PortUnavailable as err:
        raise UsageError(f"{err.strerror}: choose another with --port or http.port in the config") from None
    finally:
        web.close()
    return EXIT_OK


class Progress:
    """One live status line on a terminal; a log line every few seconds otherwise."""

    def __init__(self, stream=sys.stderr, every_s: float = 5.0) -> None:
        self.stream, self.every_s = stream, every_s
        self.tty = stream.isatty()
        self._last_logged = 0.0

    def __call__(self, counts: dict) -> None:
        if self.tty:
            line = " ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k != "source")
            self.stream.write(f"\r\033[K{counts.get('source', '')} {line}")
            self.stream.flush()
            return
        now = time.monotonic()
        if now - self._last_logged >= self.every_s:
            self._last_logged = now
            log.info("crawl_progress", **counts)

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


def cmd_crawl(cfg: Config, args) -> int:
    from crawler.runner import run_crawl_blocking
    from scheduler.app import build

    known = {s.name for s in cfg.sources}
    unknown = [n for n in args.sources if n not in known]
    if unknown:
        raise UsageError(f"unknown source(s): {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})")
    sources = [s for s in cfg.sources if (s.name in args.sources if args.sources else s.enabled)]
    if not sources:
        raise UsageError("no source to crawl: add one under 'sources' in the config")
    progress = Progress()
    if progress.tty and not args.log_level:
        # On a terminal the live line and the closing table say what info lines would.
        logging.getLogger().setLevel(logging.WARNING)
    app = build(cfg)
    try:
        app.backend.init()
        summaries = run_crawl_blocking(sources, cfg.crawl, app.ingestor, progress=progress, frontier=app.frontier)
        app.ingestor.flush()
        app.backend.refresh()  # what this crawl found is searchable when the command returns
    finally:
        progress.done()
        app.close()
    out(f"{'source':<20} {'articles':>8} {'errors':>6}  statuses")
    for name, summary in summaries.items():
        statuses = " ".join(f"{k}={v}" for k, v in sorted(summary.counts.items()))
        out(f"{name:<20} {summary.articles:>8} {summary.errors:>6}  {statuses}")
    failed = [n for n, s in summaries.items() if s.failed]
    return EXIT_FAILURE if failed and len(failed) == len(summaries) else EXIT_OK


def cmd_extract(cfg: Config, args) -> int:
    from crawler.archive import PageUnreadable, saved_page_bytes
    from crawler.decoding import decode_html
    from crawler.extraction import NotArticle, extract
    from crawler.urls import BadURL

    if args.file == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            raw = Path(args.file).read_bytes()
        except OSError as err:
            raise UsageError(f"cannot read {args.file}: {err.strerror}") from None
    try:
        raw = saved_page_bytes(raw)
    except PageUnreadable as err:
        raise UsageError(f"cannot read {args.file}: {err}") from None
    html = decode_html(raw, args.content_type).text
    try:
        article = extract(html, args.url or Path(args.file).resolve().as_uri())
    except NotArticle as err:
        sys.stderr.write(f"mediawatch: not an article: {err.reason}\n")
        return EXIT_FAILURE
    except BadURL as err:
        raise UsageError(f"--url: {err}") from None
    if args.json:
        out(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    data = article.to_dict()
    for key in ("title", "published_at", "authors", "language", "section", "canonical_url"):
        value = data.get(key)
        out(f"{key}: {', '.join(value) if isinstance(value, list) else (value or '')}")
    out("")
    out(article.text)
    return EXIT_OK


def cmd_sources_list(cfg: Config, args) -> int:
    from scheduler.app import open_frontier
    from scheduler.crawlqueue import due_label

    if not cfg.sources:
        out("no sources configured: add one with `mediawatch sources add https://www.example.com/` "
            "(or a `sources:` list in the config file)")
        return EXIT_OK
    frontier = open_frontier(cfg)
    try:
        runs = frontier.last_runs()
    finally:
        frontier.close()
    due = due_label(cfg.data_dir)
    out(f"{'source':<20} {'schedule':<16} {'last run (UTC)':<20} {'articles':>8} {'errors':>6}  next run (UTC)")
    for src in cfg.sources:
        run = runs.get(src.name)
        schedule = f"every {src.schedule.every}" if src.schedule.every else f"cron {src.schedule.cron}"
        if not src.enabled:
            schedule = "disabled"
        last = run.finished_at.strftime("%Y-%m-%d %H:%M:%S") if run and run.finished_at else "never"
        nxt = _next_run(src, run, due) if src.enabled else "-"
        out(f"{src.name:<20} {schedule:<16} {last:<20} {run.articles if run else 0:>8} "
            f"{run.errors if run else 0:>6}  {nxt}")
    return EXIT_OK


def cmd_sources_runs(cfg: Config, args) -> int:
    """A source's recent runs, newest first: when, how long, what they fetched and found, how they ended,
    and a failed URL of each run that had errors."""
    from scheduler.app import open_frontier

    frontier = open_frontier(cfg)
    try:
        runs = frontier.runs(args.source, limit=args.limit)
    finally:
        frontier.close()
    if not runs:
        if args.source not in {src.name for src in cfg.sources}:
            known = ", ".join(sorted(src.name for src in cfg.sources)) or "none"
            raise UsageError(f"unknown source {args.source!r} (known: {known})")
        out(f"no runs recorded for {args.source} yet")
        return EXIT_OK
    out(f"{'started (UTC)':<20} {'took':>8} {'pages':>6} {'articles':>8} {'errors':>6}  ended")
    for run in runs:
        ended = ("failed: " if run.failed else "") + (run.reason if run.finished_at else "running (or cut off)")
        out(f"{run.started_at.strftime('%Y-%m-%d %H:%M:%S'):<20} {run.duration_s if run.finished_at else 0:>7.0f}s "
            f"{run.pages:>6} {run.articles:>8} {run.errors:>6}  {ended}")
        if run.error_samples:
            sample = run.error_samples[-1]
            out(f"{'':<20} e.g. {sample.get('status', '')} {sample.get('url', '')} {sample.get('reason', '')}".rstrip())
    return EXIT_OK


def _next_run(src, run, due: str) -> str:
    """As the daemon schedules it (``scheduler.crawlqueue.next_run``), jitter aside; ``due`` when now."""
    from scheduler.crawlqueue import next_run

    now = datetime.now(timezone.utc)
    nxt = next_run(src, run.started_at if run else None, now)
    return due if nxt <= now else nxt.strftime("%Y-%m-%d %H:%M:%S")


def cmd_import(cfg: Config, args) -> int:
    from crawler.importer import import_archives
    from scheduler.app import build

    app = build(cfg, with_alerts=args.alert)
    try:
        app.backend.init()
        try:
            report = import_archives(args.paths, app.ingestor, app.frontier, source=args.source,
                                     workers=cfg.crawl.extraction_workers, pool=cfg.crawl.extraction_pool,
                                     niceness=cfg.crawl.extraction_niceness)
        except FileNotFoundError as err:
            raise UsageError(str(err)) from None
        if not args.alert:
            # A backfill is not news: the daemon's catch-up at start must not alert on it either.
            app.alerts.ledger.advance_watermark(time.time())
    finally:
        app.close()
    counts = " ".join(f"{k}={v}" for k, v in sorted(report.counts.items()))
    out(f"imported {report.articles} article(s) from {report.files} file(s) in {report.elapsed_s:.1f}s "
        f"({report.rate:.1f} articles/s); {counts}")
    return EXIT_OK


def cmd_index_init(cfg: Config, args) -> int:
    backend = open_backend(cfg)
    try:
        done = backend.init()
    finally:
        backend.close()
    out(json.dumps(done, indent=2, default=str))
    return EXIT_OK


def cmd_index_status(cfg: Config, args) -> int:
    backend = open_backend(cfg)
    try:
        status = backend.status()
    finally:
        backend.close()
    out(json.dumps(status, indent=2, default=str))
    return EXIT_OK


def cmd_config_check(cfg: Config, args) -> int:
    """The effective config; then the rules folder's files, read as the daemon reads them (each file
    the daemon would reject is a config error, exit 2)."""
    out(yaml.safe_dump(effective(cfg), sort_keys=False, allow_unicode=True).rstrip())
    rules = rule_set(cfg)
    if rules.errors:
        for err in sorted(map(str, rules.errors.values())):
            sys.stderr.write(f"mediawatch: config error: {err}\n")
        return EXIT_USAGE
    for warning in unknown_rule_sources(cfg, rules.rules()):
        sys.stderr.write(f"mediawatch: warning: {warning}\n")
    in_folder = sum(rules.origin(rule.name) is not None for rule in rules.rules())
    folder = f" ({in_folder} in {cfg.rules_dir})" if cfg.rules_dir else ""
    sys.stderr.write(f"config ok: {len(cfg.sources)} source(s), {len(rules)} rule(s){folder}, "
                     f"index backend {cfg.index.backend}\n")
    return EXIT_OK


def cmd_kibana_import(cfg: Config, args) -> int:
    from scheduler.kibana import KibanaImportError, credentials_from_env, default_ndjson_path, import_saved_objects

    path = Path(args.file) if args.file else default_ndjson_path()
    try:
        result = import_saved_objects(args.url, path, **credentials_from_env())
    except KibanaImportError as err:
        sys.stderr.write(f"mediawatch: kibana import failed: {err}\n")
        return EXIT_FAILURE
    out(json.dumps(result, indent=2))
    return EXIT_OK if result.get("success") else EXIT_FAILURE


HANDLERS: dict[str, Callable[[Config, object], int]] = {
    "run": cmd_run,
    "web": cmd_web,
    "crawl": cmd_crawl,
    "extract": cmd_extract,
    "search": cmd_search,
    "alerts list": cmd_alerts_list,
    "alerts test": cmd_alerts_test,
    "alerts send-test": cmd_alerts_send_test,
    "alerts backfill": cmd_alerts_backfill,
    "sources list": cmd_sources_list,
    "sources add": cmd_sources_add,
    "sources runs": cmd_sources_runs,
    "import": cmd_import,
    "index init": cmd_index_init,
    "index status": cmd_index_status,
    "config check": cmd_config_check,
    "kibana import": cmd_kibana_import,
    "cluster status": cmd_cluster_status,
}
