"""A sitemap with entries no crawler can fetch, through the real CLI: they are skipped and said in
the log with the sitemap's URL, the others crawled."""

from __future__ import annotations

import json

from tests.harness.project import crawl_config


def quirky_sitemap(site) -> bytes:
    a, b = site.newest()[:2]
    urls = [site.url(a.path), "ftp://127.0.0.1/news/x.html", "", "mailto:desk@example.org", site.url(b.path)]
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>').encode()


def test_a_sitemaps_unfetchable_entries_are_logged_and_skipped(project, fixture_site):
    site = fixture_site
    site.route("/quirky-sitemap.xml", lambda: (200, {"Content-Type": "application/xml"}, quirky_sitemap(site)))
    project.write(crawl_config(project, site.source("quirks", feeds=[], sitemaps=[site.url("/quirky-sitemap.xml")])))
    result = project.run("crawl", "quirks")
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [json.loads(ln) for ln in result.stderr.splitlines() if "sitemap_entries_skipped" in ln]
    assert line["url"] == site.url("/quirky-sitemap.xml") and line["skipped"] == 3 and line["level"] == "warning"

    a, b = site.newest()[:2]
    assert sorted(h.split("?")[0] for h in site.article_hits()) == sorted([a.path, b.path])
