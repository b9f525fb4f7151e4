"""`mediawatch alerts test` through the real CLI, on an index filled by importing the shipped WARC."""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
from datetime import datetime, timezone

import pytest

from indexer.alerts.ledger import Ledger
from indexer.alerts.ledger_rows import alert_message_id
from indexer.alerts.mailer import eml_name
from tests.harness.project import WARC, Project, import_config


@pytest.fixture(scope="module")
def warc_data(tmp_path_factory):
    """The data folder of a project that imported the shipped WARC (its index, ledger and crawl state):
    imported once for the module, as each import is a CLI process of its own."""
    project = Project(tmp_path_factory.mktemp("warc"))
    project.write(import_config(project))
    imported = project.run("import", str(WARC))
    assert imported.returncode == 0, imported.stderr[-3000:]
    return project.root / "data"


@pytest.fixture
def filled(project, warc_data):
    """``project`` with the import config and a copy of that data folder of its own: its index as
    `mediawatch import` of the WARC leaves it, whatever another test wrote into its copy."""
    shutil.copytree(warc_data, project.root / "data")
    project.write(import_config(project))
    return project


def test_a_rule_by_name_shows_its_matches_and_the_mails_they_would_cause(project, filled):
    result = project.run("alerts", "test", "pier", "--limit", "50")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "12 matching article(s) in the index, 12 stor(ies): would have caused 12 instant mail(s)" in result.stdout
    assert result.stdout.count("archive.example.org/news/story-") == 12


def test_copies_of_a_story_are_one_line_as_they_would_be_one_mail(tmp_path, project):
    """Three outlets' copies of one wire story and one other story: two lines, the copy indexed first (the
    one an instant mail is for) with its +2 outlets, as `search` shows them."""
    seed = (WARC.parent / "seed" / "dw-article.html").read_bytes()
    saved = tmp_path / "saved"
    saved.mkdir()
    for name, url in (("dw", "https://www.dw.com/en/lukashenko-hold-talks-with-jailed-rivals/a-55228510"),
                      ("wire-a", "https://news.example.org/world/lukashenko-talks"),
                      ("wire-b", "https://paper.example.net/2020/10/lukashenko-jail-talks")):
        (saved / f"{name}.html").write_bytes(f"<!-- saved from url=({len(url):04d}){url} -->\n".encode() + seed)
    (saved / "other.html").write_text(
        "<!-- saved from url=(0043)https://other.example.org/2020/meeting.html -->\n<html lang=en><head>"
        "<title>Rivals moved to a new jail</title><meta property='article:published_time' content='2020-10-12'>"
        "</head><body><article><h1>Rivals moved to a new jail</h1>"
        + "".join(f"<p>Opposition figure {i} was moved on Sunday to a jail outside Minsk, lawyers said, in a transfer "
                  f"relatives of prisoner {i} called punishment for the protests against Lukashenko.</p>" for i in range(6))
        + "</article></body></html>")
    project.write(import_config(project))
    assert project.run("import", str(saved)).returncode == 0
    query = "Lukashenko AND jail*"
    search = project.run("search", query)
    result = project.run("alerts", "test", "--query", query)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [ln for ln in result.stdout.splitlines() if re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d|undated)  ", ln)]
    assert len(lines) == 2, result.stdout
    assert sum(ln.endswith("(+2 outlets)") for ln in lines) == 1
    assert "4 matching article(s) in the index, 2 stor(ies): would have caused 2 instant mail(s)" in result.stdout
    assert sorted(lines) == sorted(ln for ln in search.stdout.splitlines() if re.match(r"^(\d{4}|undated)", ln))


def test_a_lower_case_operator_gets_a_note_beside_the_results(project, filled):
    search = project.run("search", "Lukashenko or Putin", "--json")
    assert search.returncode == 0, search.stderr[-3000:]
    assert "note: 'or' is searched as a word; as an operator it is written OR" in search.stderr
    assert all(line.startswith("{") for line in search.stdout.splitlines())  # the JSON stays clean
    tested = project.run("alerts", "test", "--query", "Lukashenko and jail*")
    assert "note: 'and' is searched as a word; as an operator it is written AND" in tested.stderr
    assert "note:" not in project.run("search", "Lukashenko OR Putin").stderr


def test_an_index_that_does_not_answer_is_named(project):
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        config = import_config(project)
        config["index"].update(url=url, request_timeout_s=2, retry_attempts=0)
        project.write(config)
        result = project.run("search", "pier")
    assert result.returncode == 1
    assert f"mediawatch: the index at {url} did not answer:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_damaged_index_file_is_named(project, filled):
    index = project.root / "data" / "index.sqlite3"
    with open(index, "r+b") as fh:  # the header kept, the pages after it overwritten
        fh.seek(4096)
        fh.write(b"not a b-tree page " * 4000)
    result = project.run("search", "pier")
    assert result.returncode == 1
    assert f"mediawatch: the index at {index} failed: " in result.stderr  # what SQLite says depends on the page hit
    assert "Traceback" not in result.stderr


def test_an_unknown_rule_exits_2_and_lists_the_known_ones(project, filled):
    result = project.run("alerts", "test", "pire")
    assert result.returncode == 2
    assert "no rule named 'pire'" in result.stderr and "known rules: pier" in result.stderr


def test_an_ad_hoc_query_and_a_window_of_days(project, filled):
    result = project.run("alerts", "test", "--query", "Lukashenko AND jail*")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 matching article(s)" in result.stdout and "lukashenko-hold-talks" in result.stdout
    # the archive's pages are from 2020: none in the last week
    result = project.run("alerts", "test", "pier", "--days", "7")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 matching article(s) in the last 7 day(s)" in result.stdout
    bad = project.run("alerts", "test", "--query", "pier AND (")
    assert bad.returncode == 2


def test_search_and_alert_snippets_come_from_one_highlighter(project, filled):
    """A phrase is marked where it occurs, not word by word: here ``was`` alone stays unmarked."""
    query = '"Lukashenko was forced"'
    search = project.run("search", query, "--json")
    assert search.returncode == 0, search.stderr[-3000:]
    (hit,) = [json.loads(line) for line in search.stdout.splitlines()]
    assert "<mark>Lukashenko</mark> <mark>was</mark> <mark>forced</mark>" in hit["snippet"]
    assert re.findall(r"<mark>(\w+)</mark>", hit["snippet"]) == ["Lukashenko", "was", "forced"]
    assert "was pressured" in hit["snippet"]
    test = project.run("alerts", "test", "--query", query)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "*Lukashenko* *was* *forced*" in test.stdout and "was pressured" in test.stdout
    assert re.findall(r"\*(\w+)\*", test.stdout) == ["Lukashenko", "was", "forced"]


def test_search_prints_plain_snippets_in_a_terminal_and_both_forms_in_json(project, filled):
    """The terminal gets the text as written, matched words as *word* (as ``alerts test`` prints them),
    not the web page's markup: no <mark>, no HTML entity for the apostrophe in "strongman's"."""
    search = project.run("search", "opposition")
    assert search.returncode == 0, search.stderr[-3000:]
    assert "Belarusian *opposition* leaders say the strongman's visit" in search.stdout
    assert "<mark>" not in search.stdout and "&#x27;" not in search.stdout
    (hit,) = [json.loads(line) for line in project.run("search", "opposition", "--json").stdout.splitlines()]
    assert "<mark>opposition</mark> leaders say the strongman&#x27;s visit" in hit["snippet"]
    assert "*opposition* leaders say the strongman's visit" in hit["snippet_text"]


def test_alert_mails_from_a_non_ascii_name_to_an_encoded_word_lookalike_read_back(project):
    """The outbox files of ``import --alert``: From ``Müller``, a recipient holding ``=?``, no defects,
    each file named by the Message-ID that (rule, story) gives."""
    lookalike = "desk=?utf-8?q?x?=@example.org"
    config = import_config(project)
    config["mail"]["from_name"] = "Müller"
    config["rules"][0]["recipients"] = [lookalike]
    project.write(config)
    result = project.run("import", "--alert", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    hits = [json.loads(line) for line in project.run("search", "pier", "--json", "--limit", "50").stdout.splitlines()]
    install = Ledger(project.root / "data" / "alerts.sqlite3").install
    names = {eml_name(alert_message_id("pier", h["story_id"], "127.0.0.1", install)) for h in hits}
    files = sorted((project.root / "outbox").glob("*.eml"))
    assert len(files) == 12 and {f.name for f in files} == names
    for f in files:
        raw = f.read_bytes()
        assert raw.isascii()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert not msg["From"].defects and not msg["To"].defects
        (sender,) = msg["From"].addresses
        assert (sender.display_name, sender.addr_spec) == ("Müller", "mediawatch@127.0.0.1")
        assert [a.addr_spec for a in msg["To"].addresses] == [lookalike]
        assert eml_name(msg["Message-ID"]) == f.name


def test_search_windows_of_dates_or_times_ago_and_a_reached_limit(project, filled):
    run = project.run
    per_day = [line[:10] for line in run("search", "pier", "--limit", "50").stdout.splitlines()
               if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert len(per_day) == 12
    window = run("search", "pier", "--since", "2020-10-11", "--until", "2020-10-12T00:00", "--limit", "50")
    assert window.returncode == 0, window.stderr[-3000:]
    assert f"{per_day.count('2020-10-11')} hit(s)\n" in window.stdout and per_day.count("2020-10-11") > 0
    # a date alone as --until takes in that day, as the web app's "to" date does
    day = run("search", "pier", "--since", "2020-10-11", "--until", "2020-10-11", "--limit", "50")
    assert day.stdout.endswith(f"{per_day.count('2020-10-11')} hit(s)\n"), day.stdout[-300:]
    # a time ago: the archive is from October 2020
    days = (datetime.now(timezone.utc) - datetime(2020, 10, 1, tzinfo=timezone.utc)).days
    assert run("search", "pier", "--since", f"{days}d", "--limit", "50").stdout.endswith("12 hit(s)\n")
    assert run("search", "pier", "--since", "7d").stdout == "0 hit(s)\n"
    assert run("search", "pier", "--limit", "5").stdout.endswith("5 hit(s) (the newest 5: --limit for more)\n")
    assert run("search", "pier", "--source", "www.dw.com").stdout == "0 hit(s)\n"  # known, nothing matches


def test_a_backfill_reports_each_rule_as_it_goes_and_mails_once(project):
    project.write({**import_config(project), "rules": [
        {"name": "pier", "query": "pier", "recipients": ["desk@example.org"]},
        {"name": "jail", "query": "Lukashenko AND jail*", "recipients": ["desk@example.org"]}]})
    assert project.run("import", str(WARC)).returncode == 0
    first = project.run("alerts", "backfill")
    assert first.returncode == 0, first.stderr[-3000:]
    progress = [json.loads(line) for line in first.stderr.splitlines() if "alerts.backfill_progress" in line]
    assert [(e["rule"], e["rules_done"], e["rules"]) for e in progress] == [("jail", 1, 2), ("pier", 2, 2)]
    assert progress[-1]["mails"] == progress[-1]["new"] == progress[-1]["matched"] == 13
    assert first.stdout == "backfill: 13 match(es), 13 new alert(s), 13 mail(s) sent\n"
    assert len(list((project.root / "outbox").glob("*.eml"))) == 13
    assert project.run("alerts", "backfill").stdout == "backfill: 13 match(es), 0 new alert(s), 0 mail(s) sent\n"


def test_search_and_alerts_refuse_nonsense_numbers_and_windows_with_one_line(project, filled):
    for args, words in [
        (("search", "pier", "--limit", "0"), "argument --limit: not a whole number of at least 1: '0'"),
        (("search", "pier", "--since", "soon"), "argument --since: not a date or a time ago: 'soon'"),
        (("search", "pier", "--since", "2020-10-12", "--until", "2020-10-01"), "the window is empty: --since starts at 2020-10-12"),
        (("alerts", "test", "pier", "--days", "-1"), "argument --days: not a whole number from 1 to 100000"),
        (("alerts", "test", "pier", "--days", "99999999"), "argument --days: not a whole number from 1 to 100000"),
        (("search", "pier", "--since", "1000000d"), "argument --since: '1000000d' ago is before the year 1"),
        (("search", "pier", "--lang", ","), "argument --lang: not a language code: ','"),
        (("search", "pier", "--lang", "en,english"), "argument --lang: not a language code: 'en,english'"),
        # the WARC's articles are from three hosts, which an import takes for their sources
        (("search", "pier", "--source", "archive.example.com"),
         "no source named 'archive.example.com' in the config or the index "
         "(known: archive.example.org, www.aljazeera.net, www.dw.com)"),
        (("alerts", "backfill", "--limit", "0"), "argument --limit: not a whole number of at least 1"),
        (("web", "--port", "99999"), "argument --port: not a whole number from 0 to 65535: '99999'"),
    ]:
        result = project.run(*args)
        assert result.returncode == 2, (args, result.stderr[-2000:])
        errors = [line for line in result.stderr.splitlines() if line.startswith("mediawatch: ")]
        assert len(errors) == 1 and words in errors[0], (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_search_takes_the_last_day_there_is_and_language_codes_in_any_case(project, filled):
    hits = project.run("search", "*", "--until", "9999-12-31", "--all-copies", "--limit", "100")
    assert hits.returncode == 0, hits.stderr[-2000:]
    assert hits.stdout.endswith("14 hit(s)\n")
    one_by_one = project.run("search", "*", "--lang", "en", "--lang", "ar", "--limit", "100")
    at_once = project.run("search", "*", "--lang", "EN,Ar", "--limit", "100")
    assert one_by_one.returncode == at_once.returncode == 0
    assert at_once.stdout == one_by_one.stdout and "[www.aljazeera.net]" in at_once.stdout


def test_a_rule_of_the_rules_folder_is_listed_tested_and_backfilled_like_a_config_rule(project):
    """The daemon alerts on the rules folder's files (the web app saves rules there), so the CLI's rule
    commands know them too; `alerts list` says where each rule is defined, its last mail, and which
    rule files are rejected and why."""
    rules_dir = project.root / "rules"
    rules_dir.mkdir()
    (rules_dir / "lukashenko.yaml").write_text(
        "name: lukashenko\nquery: Lukashenko AND jail*\nrecipients: [b@example.org]\n"
        "description: For the press office <Belarus desk>\n", encoding="utf-8")
    (rules_dir / "broken.yaml").write_text("name: [broken\n", encoding="utf-8")
    project.write({**import_config(project), "rules_dir": str(rules_dir)})
    assert project.run("import", str(WARC)).returncode == 0
    listed = project.run("alerts", "list")
    assert listed.returncode == 0, listed.stderr[-3000:]
    lines = listed.stdout.splitlines()
    assert re.match(r"lukashenko\s+instant\s+yes\s+\S+lukashenko\.yaml\s+never\s+Lukashenko AND jail\*$", lines[1]), lines
    assert re.match(r"pier\s+instant\s+yes\s+config\s+never\s+pier$", lines[2]), lines
    assert lines[3].startswith("rejected: ") and "broken.yaml" in lines[3], lines
    tested = project.run("alerts", "test", "lukashenko")
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "1 matching article(s) in the index" in tested.stdout
    backfill = project.run("alerts", "backfill", "lukashenko")
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert "1 mail(s) sent" in backfill.stdout
    (sent,) = [m for m in (project.root / "outbox").glob("*.eml") if b"b@example.org" in m.read_bytes()]
    mail = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    text, rich = (mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content())
    assert 'mediawatch rule "lukashenko": Lukashenko AND jail*\r\nFor the press office <Belarus desk>' in text
    assert "<br>For the press office &lt;Belarus desk&gt;<br>" in rich
    listed = project.run("alerts", "list")
    row = next(line for line in listed.stdout.splitlines() if line.startswith("lukashenko "))
    sent = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", row)
    assert sent and abs(datetime.strptime(sent.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
                        - datetime.now(timezone.utc)).total_seconds() < 600, row
    unknown = project.run("alerts", "test", "lukashenk")
    assert unknown.returncode == 2 and "known rules: lukashenko, pier" in unknown.stderr
    (rules_dir / "paused.yaml").write_text(
        "name: paused\nquery: pier\nrecipients: [c@example.org]\nenabled: false\n", encoding="utf-8")
    mails = len(list((project.root / "outbox").glob("*.eml")))
    refused = project.run("alerts", "backfill", "paused")
    assert refused.returncode == 2 and "paused rule(s) (enabled: false): paused" in refused.stderr
    assert len(list((project.root / "outbox").glob("*.eml"))) == mails


def test_alerts_list_without_rules_says_how_to_add_one(project):
    config = import_config(project)
    del config["rules"]
    project.write(config)
    listed = project.run("alerts", "list")
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert listed.stdout.startswith("no rules: add one under `rules:` in the config file")
