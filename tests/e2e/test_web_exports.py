"""The search exports as a spreadsheet reads them: a hostile title stays one text cell."""

from __future__ import annotations

import csv
import io
import signal
import urllib.request

from tests.e2e.daemon_log import listening_url
from tests.harness.project import import_config

TITLES = ["=HYPERLINK(\"http://evil.example\",\"click\") harbourmaster",
          "Markets;=cmd|' /C calc'!A0;@SUM(1+1) harbourmaster"]


def _page(title: str, n: int) -> str:
    from html import escape

    paras = "".join(f"<p>Paragraph {i}: the harbourmaster of pier {n} logged {i + n} ferries and a storm that "
                    f"closed the quay for {i} hours, the port authority said on Monday.</p>" for i in range(6))
    return (f"<!-- saved from url=(0038)https://port.example.org/news/{n}.html -->\n<html lang=en><head>"
            f"<title>{escape(title)}</title></head><body><article><h1>{escape(title)}</h1>{paras}"
            "</article></body></html>")


def test_a_formula_in_a_title_stays_text_in_the_csv(project, tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    for n, title in enumerate(TITLES, 10):
        (saved / f"{n}.html").write_text(_page(title, n), encoding="utf-8")
    project.write(import_config(project))
    assert project.run("import", str(saved)).returncode == 0
    proc = project.popen("web", "--port", "0")
    try:
        base = listening_url(proc, "web_listening", 60).rstrip("/")
        with urllib.request.urlopen(f"{base}/export.csv?q=harbourmaster", timeout=10) as resp:
            body = resp.read().decode("utf-8")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(r["title"] for r in rows) == sorted(["'" + TITLES[0],
                                                       "Markets;'=cmd|' /C calc'!A0;'@SUM(1+1) harbourmaster"])
    lines = body.splitlines()[1:]
    assert len(lines) == 2 and all(line.startswith('"') for line in lines)
    # read with ";" as the separator, as a spreadsheet in many locales does: no cell starts a formula
    for row in csv.reader(io.StringIO(body), delimiter=";"):
        assert not any(cell.lstrip().startswith(("=", "@", "+")) for cell in row), row
