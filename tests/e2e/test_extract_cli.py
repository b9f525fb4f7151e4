"""`mediawatch extract FILE` gives the article the library gives for the same bytes and header."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from crawler.decoding import decode_html
from crawler.extraction import extract
from tests.harness.charset_pages import SENTENCES, page

URL = "https://news.example.org/2024/05/16/council-budget.html"


@pytest.mark.parametrize("script,encoding,label", [
    ("cyrillic", "cp1251", "utf-8"),  # the header lies, the <meta> is right
    ("latin", "utf-8", "iso-8859-1"),  # a server default over UTF-8 bytes
    ("japanese", "shift_jis", None),  # no header at all
])
def test_cli_equals_library_on_the_same_bytes(project, script, encoding, label):
    project.write({})
    body = page(script, encoding)
    path = project.root / "page.html"
    path.write_bytes(body)
    header = None if label is None else f"text/html; charset={label}"
    args = ["extract", str(path), "--url", URL, "--json"] + ([] if header is None else ["--content-type", header])
    result = project.run(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    cli = json.loads(result.stdout)
    lib = extract(decode_html(body, header).text, URL).to_dict()
    volatile = {"indexed_at", "fetched_at"}
    assert {k: v for k, v in cli.items() if k not in volatile} == {k: v for k, v in lib.items() if k not in volatile}
    assert f"{SENTENCES[script]} (2)" in cli["text"]


def test_a_gzipped_page_reads_as_the_page(project):
    """A page saved compressed (``.html.gz``, or gzip bytes under an .html name) is the page; a corrupt
    or oversized gzip file is refused with its name, exit 2."""
    project.write({})
    body = page("cyrillic", "cp1251")
    plain, packed, misnamed = (project.root / n for n in ("page.html", "page.html.gz", "served.html"))
    plain.write_bytes(body)
    packed.write_bytes(gzip.compress(body))
    misnamed.write_bytes(gzip.compress(body))
    outputs = []
    for path in (plain, packed, misnamed):
        result = project.run("extract", str(path), "--url", URL, "--json")
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append({k: v for k, v in json.loads(result.stdout).items() if k not in ("indexed_at", "fetched_at")})
    assert outputs[0] == outputs[1] == outputs[2]
    assert f"{SENTENCES['cyrillic']} (2)" in outputs[1]["text"]
    corrupt = project.root / "corrupt.html.gz"
    corrupt.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 8)
    result = project.run("extract", str(corrupt))
    assert result.returncode == 2 and "corrupt.html.gz" in result.stderr and "gzip" in result.stderr, result.stderr


def test_cli_reads_the_byline_element(project):
    """No JSON-LD or meta author: the name comes from the byline markup (crawler.extraction.byline),
    and comments signed on the page do not count."""
    project.write({})
    paragraphs = "".join(f"<p>Paragraph {i} of the council's budget story, long enough to be an article.</p>"
                         for i in range(12))
    html = ("<html><head><title>Council budget</title></head><body><article><h1>Council budget</h1>"
            "<div class='post-meta'><span class='byline'>By <a href='/staff/jd'>Jane Doe</a></span>"
            "<time>16 May 2024</time></div>" + paragraphs + "</article><section class='comments'>"
            "<span class='comment-author'>Troll 42</span><p>First!</p></section></body></html>")
    path = project.root / "page.html"
    path.write_text(html, encoding="utf-8")
    result = project.run("extract", str(path), "--url", URL, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["authors"] == ["Jane Doe"]


def test_cli_finds_the_article_where_both_fast_runs_keep_a_teaser(project):
    """A real traf-dev page whose precision and recall runs both keep one short teaser: the article
    comes from trafilatura's slow run (crawler.extraction.body's rescue), through the real CLI."""
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "traf-dev"
    url, truth = next((u, item) for u, item in json.loads((shared / "evaldata.json").read_text("utf-8")).items()
                      if item["file"] == "laviedesidees.fr.evaluation.html")
    project.write({})
    path = project.root / "page.html"
    path.write_bytes(gzip.decompress((shared / "pages" / f"{truth['file']}.gz").read_bytes()))
    result = project.run("extract", str(path), "--url", url, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    text = " ".join(json.loads(result.stdout)["text"].split())
    assert truth["with"]
    assert all(" ".join(snippet.split()) in text for snippet in truth["with"])
