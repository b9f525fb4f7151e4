"""`mediawatch sources add HOMEPAGE` and the web app's Sources form: probe the site, show a test crawl,
write the source once confirmed.

    proposal = await find_source(cfg, "https://www.example.com/")   # probe + sample crawl: a Proposal
    write_source(config_path, proposal)                              # into the config, comments kept

Both the CLI and the web form go through these two, so a source added in the browser is written exactly
as `sources add` writes it. The web form's probe does not trust the homepage's host (``trust_homepage``):
the SSRF guard checks it like any found URL, so only public addresses (or ``crawl.allowed_networks``)
are fetched from the browser.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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


@dataclass
class Proposal:
    """What a homepage gave: feeds, sitemaps or section page, a test crawl, and the source to write
    (``source``; None with ``error``, the reason nothing can be written)."""

    homepage: str
    name: str
    error: str = ""
    probe: Any = None  # crawler.probe.Probe
    articles: list[Any] = field(default_factory=list)  # indexer.article.Article, from the test crawl
    counts: dict[str, int] = field(default_factory=dict)  # the test crawl's URL statuses
    per_day: float | None = None
    per_day_from: str = ""  # what per_day was counted from
    source: dict[str, Any] | None = None

    @property
    def yaml(self) -> str:
        return yaml.safe_dump([self.source], sort_keys=False, allow_unicode=True).rstrip() if self.source else ""

    @property
    def rate(self) -> str:
        return _rate(self.per_day)


def check_new_source(cfg: Config, homepage: str, name: str | None) -> tuple[str, str]:
    """The homepage (stripped) and the source's name (suggested when None); UsageError when the URL is not
    http(s), the name is taken or invalid."""
    from crawler.discovery.homepage import suggest_name
    from crawler.sources import Source
    from crawler.urls import check_http_url

    homepage = homepage.strip()
    try:  # as the config will check it ("http://[::1": the suggested name, and the probe, would raise)
        check_http_url(homepage)
    except ValueError as err:
        raise UsageError(str(err)) from None
    name = (name or "").strip() or suggest_name(homepage)
    if any(s.name == name for s in cfg.sources):
        raise UsageError(f"a source named {name!r} exists already (choose another with --name)")
    try:
        Source(name=name, sections={"urls": [homepage]})
    except ValidationError as err:
        raise UsageError(f"invalid source name {name!r}: {err.errors()[0]['msg']}") from None
    return homepage, name


async def find_source(cfg: Config, homepage: str, name: str | None = None, *, articles: int = 5,
                      trust_homepage: bool = True) -> Proposal:
    """Probe the homepage and test-crawl the source it suggests (on the running event loop). Raises
    UsageError for what the user typed; what the site answers is the Proposal's ``error``."""
    from crawler.discovery.homepage import per_day
    from crawler.probe import ProbeError, probe_homepage, propose, sample_crawl
    from crawler.sources import Source

    homepage, name = check_new_source(cfg, homepage, name)
    probe = await probe_homepage(homepage, cfg.crawl, trust_homepage=trust_homepage)
    found = Proposal(homepage=homepage, name=name, probe=probe)
    try:
        proposal = propose(probe, name)
    except ProbeError as err:
        found.error = str(err)
        return found
    watched = _watched_by(cfg, Source(**proposal))
    if watched:
        found.error = "; ".join(f"{url} is watched by source {owner} already" for url, owner in watched.items())
        return found
    found.articles, summary = await sample_crawl(Source(**proposal), cfg.crawl, articles=articles)
    found.counts = dict(sorted(summary.counts.items()))
    rates = [f.per_day for f in [*probe.feeds, *probe.sitemaps] if f.per_day is not None]
    if rates:
        found.per_day, found.per_day_from = max(rates), "the dates its feeds and sitemaps list"
    else:
        found.per_day = per_day([a.published_at for a in found.articles])
        found.per_day_from = "the test crawl's dates"
    if not found.articles:
        found.error = f"the test crawl of {homepage} found no article"
    else:
        found.source = proposal
    return found


def _entry_points(source) -> list[str]:
    return [*source.feeds, *source.sitemaps, *source.sections.urls]


def _watched_by(cfg: Config, new) -> dict[str, str]:
    """The new source's feeds, sitemaps and section pages that a configured source reads already: a second
    source on them would crawl the site twice and count its articles under two names."""
    from crawler.urls import BadURL, canonicalize

    def key(url: str) -> str:
        try:
            return canonicalize(url)
        except BadURL:
            return url

    owners = {key(url): src.name for src in cfg.sources for url in _entry_points(src)}
    return {url: owners[key(url)] for url in _entry_points(new) if key(url) in owners}


def write_source(path: Path, proposal: Proposal) -> None:
    """Add the proposal's source to the config file at ``path`` (comments and layout kept); UsageError
    when there is nothing to write or the file has a source of that name by now."""
    from scheduler.config import ConfigError, load
    from scheduler.configedit import add_source

    if proposal.source is None:
        raise UsageError(proposal.error or "nothing to write")
    try:
        current = load(path)
    except ConfigError as err:
        raise UsageError(f"the config file does not load: {err}") from None
    check_new_source(current, proposal.homepage, proposal.name)
    add_source(path, proposal.source)
    probe = proposal.probe
    log.info("source_added", source=proposal.name, config=str(path), feeds=len(probe.feeds),
             sitemaps=len(probe.sitemaps), section=bool(probe.section))


def cmd_sources_add(cfg: Config, args) -> int:
    from crawler.runner import run_blocking

    found = run_blocking(find_source(cfg, args.homepage, args.name, articles=args.articles))
    probe = found.probe
    if probe.error:  # the homepage itself failed: nothing to show
        sys.stderr.write(f"mediawatch: {found.error}; nothing written\n")
        return EXIT_FAILURE
    _out(f"homepage  {probe.final_url} (HTTP {probe.status})")
    for feed in probe.feeds:
        _out(f"feed      {feed.url}  {feed.kind}, {feed.entries} entries, {_rate(feed.per_day)}"
             f"  (found by {feed.via})")
    for sitemap in probe.sitemaps:
        news = ", news" if sitemap.news else ""
        _out(f"sitemap   {sitemap.url}  {sitemap.kind}{news}, {sitemap.entries} URLs, {_rate(sitemap.per_day)}"
             f"  (found by {sitemap.via})")
    if probe.section:
        _out(f"section   {probe.section}  (no feed or sitemap found: the homepage's links are followed)")
    for url, why in probe.tried[:12]:
        _out(f"not used  {url}  {why}")

    if found.source is None and not found.counts:  # refused before a test crawl: nothing more to show
        sys.stderr.write(f"mediawatch: {found.error}; nothing written\n")
        return EXIT_FAILURE
    counts = " ".join(f"{k}={v}" for k, v in found.counts.items())
    _out(f"\ntest crawl: {len(found.articles)} article(s) ({counts})")
    for article in found.articles:
        _out(f"  {_when(article.published_at):<16}  {article.language or '??':<3} {article.word_count:>6} words  "
             f"{article.title}")
        _out(f"  {'':<16}  {article.url}")
    _out(f"new per day: {found.rate} (from {found.per_day_from})")
    if found.source is None:
        sys.stderr.write(f"mediawatch: {found.error}; nothing written\n")
        return EXIT_FAILURE

    _out("\n" + found.yaml)
    path = config_path(args.config)
    if not (args.yes or _confirmed(path)):
        _out(f"not written to {path}")
        return EXIT_OK
    write_source(path, found)
    _out(f"added source {found.name} to {path}")
    return EXIT_OK
