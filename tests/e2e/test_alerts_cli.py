"""`mediawatch alerts test` through the real CLI, on an index filled by importing the shipped WARC."""

from __future__ import annotations

from tests.e2e.test_import import WARC, import_config


def filled(project):
    project.write(import_config(project))
    assert project.run("import", str(WARC)).returncode == 0
    return project


def test_a_rule_by_name_shows_its_matches_and_the_mails_they_would_cause(project):
    result = filled(project).run("alerts", "test", "pier", "--limit", "50")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "12 matching article(s) in the index, 12 stor(ies): would have caused 12 instant mail(s)" in result.stdout
    assert result.stdout.count("archive.example.org/news/story-") == 12


def test_an_unknown_rule_exits_2_and_lists_the_known_ones(project):
    result = filled(project).run("alerts", "test", "pire")
    assert result.returncode == 2
    assert "no rule named 'pire'" in result.stderr and "known rules: pier" in result.stderr


def test_an_ad_hoc_query_and_a_window_of_days(project):
    filled(project)
    result = project.run("alerts", "test", "--query", "Lukashenko AND jail*")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 matching article(s)" in result.stdout and "lukashenko-hold-talks" in result.stdout
    # the archive's pages are from 2020: none in the last week
    result = project.run("alerts", "test", "pier", "--days", "7")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 matching article(s) in the last 7 day(s)" in result.stdout
    bad = project.run("alerts", "test", "--query", "pier AND (")
    assert bad.returncode == 2
