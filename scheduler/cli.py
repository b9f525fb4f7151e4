"""The `mediawatch` command line. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import structlog

from crawler.sources import parse_duration
from indexer.article import language_codes
from scheduler import config as config_mod
from scheduler import logs
from scheduler.errors import EXIT_FAILURE, EXIT_USAGE, UsageError
from scheduler.lock import DataDirBusy, DataDirLock

log = structlog.get_logger("mediawatch.cli")

# Commands that write into the data folder (index, spool, crawl state, ledger): one at a time,
# and never beside a running daemon (which holds the same lock, see Daemon.run). Reading
# commands (search, alerts test, sources list, index status, extract) work beside it.
WRITERS = frozenset({"crawl", "import", "index init", "alerts backfill"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep one message format
        self.print_usage(sys.stderr)
        sys.stderr.write(f"mediawatch: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _when(value: str) -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or a time ago: ``7d``, ``12h``, ``30m``."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            return datetime.now(timezone.utc) - parse_duration(value)
        except OverflowError:
            raise argparse.ArgumentTypeError(f"{value!r} ago is before the year 1") from None
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a date or a time ago: {value!r} (e.g. 2020-10-10, 2020-10-10T08:00+02:00, 12h, 7d)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _until(value: str) -> datetime:
    """As :func:`_when`; a date alone reaches to the end of that day (as the web app's "to" date)."""
    when = _when(value)
    try:
        date.fromisoformat(value)  # a date alone (YYYY-MM-DD), no time of day
    except ValueError:
        return when
    try:
        return when + timedelta(days=1)
    except OverflowError:  # 9999-12-31: the last day there is
        return datetime.max.replace(tzinfo=timezone.utc)


def _at_least(low: int, high: int | None = None):
    def number(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            n = None
        if n is None or n < low or (high is not None and n > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"not a whole number {bound}: {value!r}")
        return n
    return number


_COUNT, _PORT = _at_least(1), _at_least(0, 65535)
_DAYS = _at_least(1, 100_000)  # back to the 18th century, well inside what a date can hold


def _language_codes(value: str) -> list[str]:
    """``en`` or ``en,de``: articles carry lower-case codes, so ``EN`` is ``en``."""
    codes, wrong = language_codes([value])
    if not codes or wrong:
        raise argparse.ArgumentTypeError(f"not a language code: {value!r} (e.g. en, or en,de)")
    return codes
_WHEN = "an ISO date or time (2020-10-10, 2020-10-10T08:00+02:00; UTC unless it says) or a time ago (12h, 7d)"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mediawatch", description="Crawl news sites, index articles, email keyword alerts.")
    p.add_argument("--config", help=f"config file (default: ${config_mod.ENV_VAR} or {config_mod.DEFAULT_PATH})")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    sub.add_parser("run", help="run the daemon: scheduled crawls, indexing, alerts (and the web app)")

    w = sub.add_parser("web", help="serve the web app alone on an existing index (read-only beside a daemon)")
    w.add_argument("--host", default=None, help="address to bind (default: http.host)")
    w.add_argument("--port", type=_PORT, default=None, help="port (default: http.port; 0 picks a free one)")

    c = sub.add_parser("crawl", help="crawl now, in the foreground, with progress")
    c.add_argument("sources", nargs="*", metavar="SOURCE", help="source names (default: all enabled)")

    e = sub.add_parser("extract", help="run one saved page through the extractor")
    e.add_argument("file", help="an HTML file, gzipped or not ('-' for stdin)")
    e.add_argument("--url", default="", help="the page's URL (helps dates, canonical URL)")
    e.add_argument("--content-type", default=None,
                   help="the Content-Type header it was served with (its charset is weighed as a crawl would)")
    e.add_argument("--json", action="store_true", help="print the whole article as JSON")

    s = sub.add_parser("search", help="search the index (Lucene/Kibana query syntax)")
    s.add_argument("query", help="e.g. 'Lukashenko AND (prison OR jail)', 'title:\"climate deal\"', 'sanction*'")
    s.add_argument("--since", type=_when, metavar="WHEN", help=f"published at or after WHEN: {_WHEN}")
    s.add_argument("--until", type=_until, metavar="WHEN",
                   help="published before WHEN (the same forms; a date alone includes that day)")
    s.add_argument("--source", action="append", dest="sources", metavar="NAME",
                   help="only this source (repeat for several)")
    s.add_argument("--lang", action="append", dest="languages", metavar="CODE", type=_language_codes,
                   help="only this language, e.g. en (repeat, or en,de, for several)")
    s.add_argument("--limit", type=_COUNT, default=20, help="newest hits shown (default 20)")
    s.add_argument("--json", action="store_true", help="one JSON object per hit")
    s.add_argument("--all-copies", action="store_true",
                   help="one line per article (default: one per story, other outlets counted as +N)")

    a = sub.add_parser("alerts", help="alert rules").add_subparsers(dest="alerts_command", metavar="ACTION", parser_class=_Parser)
    a.required = True
    a.add_parser("list", help="each rule (config file and rules folder): mode, where defined, last mail")
    at = a.add_parser("test", help="show what a rule (by name, or an ad-hoc --query) matches in the index")
    at.add_argument("rule", nargs="?", help="a rule's name (unknown names exit 2 and list the rules)")
    at.add_argument("--query", help="an ad-hoc query instead of a rule")
    at.add_argument("--days", type=_DAYS, help="only articles of the last N days")
    at.add_argument("--limit", type=_COUNT, default=20, help="newest matches shown (default 20)")
    ast = a.add_parser("send-test", help="send a test alert on every route of a rule: email, notify channels")
    ast.add_argument("rule")
    ab = a.add_parser("backfill", help="alert now on what rules already match in the index (once per article)")
    ab.add_argument("rules", nargs="*", metavar="RULE", help="rule names (default: all enabled)")
    ab.add_argument("--limit", type=_COUNT, default=1000, help="newest matching articles per rule (default 1000)")

    so = sub.add_parser("sources", help="configured sources").add_subparsers(dest="sources_command", metavar="ACTION", parser_class=_Parser)
    so.required = True
    so.add_parser("list", help="each source with its last run and next run")
    sr = so.add_parser("runs", help="a source's recent runs: when, how long, pages, articles, errors, how each ended")
    sr.add_argument("source", metavar="SOURCE", help="the source's name")
    sr.add_argument("--limit", type=_COUNT, default=20, help="newest runs shown (default 20)")
    sa = so.add_parser("add", help="find a site's feeds, sitemaps or section page from its homepage, "
                                   "test-crawl a few articles, and add it to the config")
    sa.add_argument("homepage", help="the site's homepage, e.g. https://www.example.com/")
    sa.add_argument("--name", help="the source's name (default: from the host)")
    sa.add_argument("--yes", action="store_true", help="write it to the config without asking")
    sa.add_argument("--articles", type=_COUNT, default=5, metavar="N", help="articles to test-crawl (default 5)")

    im = sub.add_parser("import", help="index WARC / WARC.gz files and folders of saved .html pages")
    im.add_argument("paths", nargs="+", metavar="PATH", help="WARC files, saved pages (.html, .htm, gzipped or not), or folders of them")
    im.add_argument("--source", default=None, help="source name for the articles (default: each page's host)")
    im.add_argument("--alert", action="store_true", help="match the imported articles against the rules and send")

    i = sub.add_parser("index", help="the index").add_subparsers(dest="index_command", metavar="ACTION", parser_class=_Parser)
    i.required = True
    i.add_parser("init", help="create or upgrade the index layout (idempotent)")
    i.add_parser("status", help="counts, health, template version")

    cc = sub.add_parser("config", help="configuration").add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser)
    cc.required = True
    cc.add_parser("check", help="validate and print the effective config, secrets masked")

    cl = sub.add_parser("cluster", help="several daemons on one PostgreSQL (the cluster: section)").add_subparsers(
        dest="cluster_command", metavar="ACTION", parser_class=_Parser)
    cl.required = True
    cls = cl.add_parser("status", help="the daemons (id, host, pid, heartbeat), their leases, and the lag")
    cls.add_argument("--json", action="store_true", help="the report as JSON")

    k = sub.add_parser("kibana", help="Kibana dashboards").add_subparsers(dest="kibana_command", metavar="ACTION", parser_class=_Parser)
    k.required = True
    ki = k.add_parser("import", help="import the bundled data views and dashboard")
    ki.add_argument("--url", required=True, help="Kibana base URL, e.g. http://localhost:5601")
    ki.add_argument("--file", default=None, help="NDJSON to import (default: the bundled one)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = config_mod.config_path(args.config)
    try:
        if path == Path(config_mod.DEFAULT_PATH) and not path.exists() and args.command == "extract":
            cfg = config_mod.Config()  # extracting a file needs no config
        else:
            cfg = config_mod.load(path)
    except config_mod.ConfigError as err:
        sys.stderr.writelines(f"mediawatch: config error: {line}\n" for line in str(err).splitlines())
        return EXIT_USAGE
    logs.configure(args.log_level or cfg.log.level, cfg.log.format)
    from indexer.backends.base import BackendError, BackendUnavailable
    from scheduler import commands  # heavy imports (scrapy, elasticsearch) only past config

    key = _command_key(args)
    handler = commands.HANDLERS[key]
    lock = DataDirLock(cfg.data_dir)
    try:
        if key in WRITERS:
            lock.acquire(key)
        return handler(cfg, args)
    except DataDirBusy as err:
        sys.stderr.write(f"mediawatch: {err}\n")
        return EXIT_USAGE
    except UsageError as err:
        sys.stderr.write(f"mediawatch: error: {err}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BackendError as err:  # an outage or a damaged file, not a bug: where, and what it said
        where = cfg.index.url or cfg.index.sqlite_path
        log.warning("command_failed", command=key, index=where, error=str(err)[:300])
        what = "did not answer" if isinstance(err, BackendUnavailable) else "failed"
        sys.stderr.write(f"mediawatch: the index at {where} {what}: {str(err).removeprefix(f'{where}: ')}\n")
        return EXIT_FAILURE
    except Exception as err:  # the last line of defence: a clear message, not a traceback
        log.error("command_failed", command=key, error=str(err), exc_info=True)
        sys.stderr.write(f"mediawatch: {err}\n")
        return EXIT_FAILURE
    finally:
        lock.release()


def _command_key(args: argparse.Namespace) -> str:
    for attr in ("alerts_command", "sources_command", "index_command", "config_command", "kibana_command",
                 "cluster_command"):
        if getattr(args, attr, None):
            return f"{args.command} {getattr(args, attr)}"
    return args.command


if __name__ == "__main__":
    sys.exit(main())
