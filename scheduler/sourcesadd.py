"""`mediawatch sources add HOMEPAGE`: probe the site, show a test crawl, write the source once confirmed."""

from __future__ import annotations

import sys
from datetime import datetime

import structlog
import yaml
from pydantic import ValidationError

from scheduler.config import Config, config_path
from scheduler.errors import EXIT_FAILURE, EXIT_OK, UsageError

log = structlog.get_logger("mediawatch.cli")


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _rate(value: float | None) -> str:
    if value is None:
        return "no recent dates"
    return f"~{value:.0f}/day" if value >= 1 else f"~{value:.1f}/day"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "undated"


def _confirmed(path) -> bool:
    sys.stderr.write(f"Add it to {path}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def cmd_sources_add(cfg: Config, args) -> int:
    from crawler.discovery.homepage import per_day, suggest_name
    from crawler.probe import ProbeError, probe_homepage, propose, sample_crawl
    from crawler.runner import run_blocking
    from crawler.sources import Source
    from scheduler.configedit import add_source

    homepage = args.homepage.strip()
    if not homepage.startswith(("http://", "https://")):
        raise UsageError(f"not an http(s) URL: {homepage!r}")
    if args.articles < 1:
        raise UsageError("--articles must be at least 1")
    name = args.name or suggest_name(homepage)
    if any(s.name == name for s in cfg.sources):
        raise UsageError(f"a source named {name!r} exists already (choose another with --name)")
    try:
        Source(name=name, sections={"urls": [homepage]})
    except ValidationError as err:
        raise UsageError(f"invalid source name {name!r}: {err.errors()[0]['msg']}") from None

    probe = run_blocking(probe_homepage(homepage, cfg.crawl))
    try:
        proposal = propose(probe, name)
    except ProbeError as err:
        sys.stderr.write(f"mediawatch: {err}; nothing written\n")
        return EXIT_FAILURE
    _out(f"homepage  {probe.final_url} (HTTP {probe.status})")
    for found in probe.feeds:
        _out(f"feed      {found.url}  {found.kind}, {found.entries} entries, {_rate(found.per_day)}"
             f"  (found by {found.via})")
    for found in probe.sitemaps:
        news = ", news" if found.news else ""
        _out(f"sitemap   {found.url}  {found.kind}{news}, {found.entries} URLs, {_rate(found.per_day)}"
             f"  (found by {found.via})")
    if probe.section:
        _out(f"section   {probe.section}  (no feed or sitemap found: the homepage's links are followed)")
    for url, why in probe.tried[:12]:
        _out(f"not used  {url}  {why}")

    source = Source(**proposal)
    articles, summary = run_blocking(sample_crawl(source, cfg.crawl, articles=args.articles))
    counts = " ".join(f"{k}={v}" for k, v in sorted(summary.counts.items()))
    _out(f"\ntest crawl: {len(articles)} article(s) ({counts})")
    for article in articles:
        _out(f"  {_when(article.published_at):<16}  {article.language or '??':<3} {article.word_count:>6} words  "
             f"{article.title}")
        _out(f"  {'':<16}  {article.url}")
    rates = [f.per_day for f in [*probe.feeds, *probe.sitemaps] if f.per_day is not None]
    if rates:
        _out(f"new per day: {_rate(max(rates))} (from the dates its feeds and sitemaps list)")
    else:
        _out(f"new per day: {_rate(per_day([a.published_at for a in articles]))} (from the test crawl's dates)")
    if not articles:
        sys.stderr.write(f"mediawatch: the test crawl of {homepage} found no article; nothing written\n")
        return EXIT_FAILURE

    _out("\n" + yaml.safe_dump([proposal], sort_keys=False, allow_unicode=True).rstrip())
    path = config_path(args.config)
    if not (args.yes or _confirmed(path)):
        _out(f"not written to {path}")
        return EXIT_OK
    add_source(path, proposal)
    log.info("source_added", source=name, config=str(path), feeds=len(probe.feeds), sitemaps=len(probe.sitemaps),
             section=bool(probe.section))
    _out(f"added source {name} to {path}")
    return EXIT_OK
