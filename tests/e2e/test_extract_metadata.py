"""`mediawatch extract FILE` on real dev pages: the date the page prints and the byline's name alone."""

from __future__ import annotations

import json

import pytest

from tests.unit.extraction._data import traf_page


@pytest.mark.parametrize("file_name, day, authors", [
    # published 2021-03-08 in meta and URL; the page prints only its update, March 14
    ("edition.cnn.com-royal.html", "2021-03-14", None),
    # 2023-11-09T05:30:59Z in the metadata, 2023-11-08 23:30:59 in the page's <time>: its day in its offset
    ("twincities.com-mayor.html", "2023-11-08", None),
    # "By Adam Aaronson PhillyVoice Staff", with the name element "Adam Aaronson" inside
    ("phillyvoice.com-Sixers.html", None, ["Adam Aaronson"]),
    # JSON-LD author "edilson.la.rosa"; the byline spells the person out
    ("libero.pe-ronaldo.html", None, ["Edilson La Rosa"]),
])
def test_cli_gives_the_printed_day_and_the_authors_names(project, file_name, day, authors):
    project.write({})
    html, url, _ = traf_page(file_name)
    path = project.root / "page.html"
    path.write_bytes(html.encode("utf-8"))
    result = project.run("extract", str(path), "--url", url, "--json", "--content-type", "text/html; charset=utf-8")
    assert result.returncode == 0, result.stderr[-2000:]
    article = json.loads(result.stdout)
    if day:
        assert article["published_at"][:10] == day
    if authors:
        assert article["authors"] == authors
