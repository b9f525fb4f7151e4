"""`mediawatch import` of the shipped WARC through the real CLI: indexed once, alerts only with --alert."""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.harness.project import WARC, import_config


def urls(project) -> list[str]:
    result = project.run("search", "*", "--json", "--all-copies", "--limit", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line)["url"] for line in result.stdout.splitlines()]


def outbox(project) -> list[Path]:
    return sorted((project.root / "outbox").glob("*.eml"))


def test_import_then_reimport_indexes_each_article_once_without_alerts(project):
    project.write(import_config(project))
    result = project.run("import", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 14 article(s)" in result.stdout, result.stdout
    assert "import_progress" in result.stderr and "eta_s" in result.stderr
    first = urls(project)
    assert len(first) == len(set(first)) == 14
    assert (project.root / "data").stat().st_mode & 0o777 == 0o700  # made by us: this user's alone
    assert "https://www.dw.com/en/lukashenko-hold-talks-with-jailed-rivals/a-55228510" in first

    result = project.run("import", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 0 article(s)" in result.stdout and "seen=14" in result.stdout, result.stdout
    assert sorted(urls(project)) == sorted(first)
    assert outbox(project) == []


def test_import_with_alert_mails_the_matches(project):
    project.write(import_config(project))
    result = project.run("import", "--alert", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(outbox(project)) == 12  # the twelve archived stories mention the pier


def test_missing_path_is_a_usage_error(project):
    project.write(import_config(project))
    result = project.run("import", str(project.root / "nope.warc.gz"))
    assert result.returncode == 2
    assert "nope.warc.gz" in result.stderr


def index_rows(project) -> int:
    import sqlite3

    path = project.root / "data" / "index.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:  # not created yet, or mid-write
        return 0


def test_import_killed_halfway_then_resumed_gives_every_article_once(tmp_path, project):
    import os
    import signal
    import subprocess
    import sys

    from tests.harness.project import Project, cli_env
    from tests.harness.wait import wait_until

    warc = tmp_path / "aeb.warc.gz"
    subprocess.run([sys.executable, "-m", "tests.make_warc", str(warc), "--aeb", "182"], check=True,
                   env=cli_env(), cwd=Path(__file__).resolve().parents[2])

    reference = Project(tmp_path / "reference")
    reference.root.mkdir()
    reference.write(import_config(reference))
    assert reference.run("import", "--alert", str(warc)).returncode == 0
    expected, expected_mails = sorted(urls(reference)), len(outbox(reference))
    assert len(expected) > 50  # copies whose page names the original as canonical fold into it

    project.write(import_config(project))
    # its own process group, so the kill takes the extraction workers too, as a machine crash would
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "--config", str(project.config_path), "import", "--alert", str(warc)],
        cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(),
        start_new_session=True)
    wait_until(lambda: index_rows(project) >= 20 or proc.poll() is not None, 120, "20 articles indexed")
    assert proc.poll() is None, "the import ended before it could be killed halfway"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert 0 < index_rows(project) < len(expected)

    result = project.run("import", "--alert", str(warc))
    assert result.returncode == 0, result.stderr[-3000:]
    got = urls(project)
    assert sorted(got) == expected and len(got) == len(set(got))
    mails = outbox(project)
    assert len(mails) == expected_mails  # a mail's file is named by its Message-ID: a resend overwrites
    assert len({m.name for m in mails}) == len(mails)


def test_a_broken_record_is_skipped_with_a_reason(tmp_path, project):
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(WARC.read_bytes() + b"\x1f\x8b\x08\x00 this is not a gzip member, nor a WARC record")
    project.write(import_config(project))
    result = project.run("import", str(broken))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 14 article(s)" in result.stdout, result.stdout
    assert "import_record_skipped" in result.stderr and "broken.warc.gz" in result.stderr


def test_a_folder_of_saved_pages(tmp_path, project):
    import shutil

    saved = tmp_path / "saved"
    (saved / "deeper").mkdir(parents=True)
    seed = (WARC.parent / "seed" / "dw-article.html").read_bytes()
    (saved / "dw.html").write_bytes(
        b"<!-- saved from url=(0072)https://www.dw.com/en/lukashenko-hold-talks-with-jailed-rivals/a-55228510 -->\n"
        + seed)
    shutil.copy(WARC.parent / "pages" / "arabic-news.html", saved / "deeper" / "arabic.htm")
    (saved / "notes.txt").write_text("not a page")
    # saved compressed: a .html.gz, and a page stored as the server sent it (gzip under an .html name)
    pier = gzip.compress(b"<!-- saved from url=(0040)https://news.example.org/2024/pier.html -->\n"
                         + seed.replace(b"Lukashenko", b"Pier"))
    (saved / "pier.html.gz").write_bytes(pier)
    (saved / "deeper" / "served.html").write_bytes(gzip.compress(
        b"<!-- saved from url=(0043)https://news.example.org/2024/harbour.html -->\n"
        + seed.replace(b"Lukashenko", b"Harbour")))
    (saved / "corrupt.html.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 8)
    # no note and no canonical link: its Open Graph URL says where it came from
    (saved / "og.html").write_bytes(re.sub(rb"<link[^>]*canonical[^>]*>", b"", seed).replace(
        b"https://www.dw.com/en/lukashenko-hold-talks-with-jailed-rivals/a-55228510",
        b"https://news.example.org/2024/og.html").replace(b"Lukashenko", b"Quay"))
    project.write(import_config(project))
    result = project.run("import", str(saved))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 5 article(s) from 6 file(s)" in result.stdout and "error:record=1" in result.stdout, result.stdout
    assert "import_record_skipped" in result.stderr and "corrupt.html.gz" in result.stderr
    got = urls(project)
    assert "https://www.dw.com/en/lukashenko-hold-talks-with-jailed-rivals/a-55228510" in got
    assert "https://news.example.org/2024/pier.html" in got and "https://news.example.org/2024/harbour.html" in got
    assert "https://news.example.org/2024/og.html" in got
    assert len(got) == 5


def test_a_record_warcio_cannot_read_costs_that_file_only(tmp_path, project):
    """A response record whose WARC-Target-URI header is damaged made warcio raise AttributeError, which
    ended the whole import: the other files given were never read."""
    damaged = tmp_path / "damaged.warc"
    with damaged.open("wb") as out:
        writer = WARCWriter(out, gzip=False)
        page = b"<html><body><p>" + b"A page nobody will read. " * 40 + b"</p></body></html>"
        writer.write_record(writer.create_warc_record(
            "https://damaged.example/a.html", "response", payload=io.BytesIO(page),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")))
    damaged.write_bytes(damaged.read_bytes().replace(b"WARC-Target-URI", b"WARC-Target-URX"))
    project.write(import_config(project))
    result = project.run("import", str(damaged), str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 14 article(s)" in result.stdout, result.stdout
    skipped = [json.loads(line) for line in result.stderr.splitlines() if "import_record_skipped" in line]
    assert skipped and "damaged.warc" in skipped[0]["where"] and "unreadable WARC" in skipped[0]["reason"], skipped
