"""Rules: validation with file + key in the error, the rules folder re-read by mtime, fingerprints."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from indexer.alerts.rules import Rule, RuleError, RuleSet, load_rules_file, validate_rule


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    # make sure the mtime moves even on coarse-grained file systems
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000 * (1 + int(time.time()) % 7)))
    return path


def test_single_rule_file_defaults_name_to_stem(tmp_path):
    (rule,) = load_rules_file(write(tmp_path / "belarus.yaml", "query: Lukashenko AND (prison OR jail)\n"
                                                               "recipients: [desk@example.org]\n"))
    assert rule.name == "belarus" and rule.mode == "instant" and rule.enabled


def test_list_and_rules_key(tmp_path):
    a = load_rules_file(write(tmp_path / "a.yaml", "- {name: a, query: x}\n- {name: b, query: y, mode: hourly}\n"))
    b = load_rules_file(write(tmp_path / "b.yml", "rules:\n  - {name: c, query: z, mode: daily, daily_at: '07:30'}\n"))
    assert [r.name for r in a + b] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("rules:\n  - {name: ok, query: x}\n  - {name: bad, query: 'a AND (b'}\n", "rules[1].query", "position"),
        ("name: r\nquery: x\nrecipients: ['not an address']\n", "recipients", "not an email address"),
        ("name: r\nquery: x\nmode: weekly\n", "mode", "instant"),
        ("name: r\nquery: x\ndaily_at: '25:00'\n", "daily_at", "HH:MM"),
        ("name: r\nquery: x\ncolour: blue\n", "colour", "unknown key"),
        ("name: 'bad name!'\nquery: x\n", "name", "pattern"),
        ("name: r\nquery: 'foo:bar'\n", "query", "unknown field"),
        ("- {name: r, query: x}\n- 42\n", "[1]", "mapping"),
    ],
)
def test_errors_name_file_and_key(tmp_path, text, key, fragment):
    path = write(tmp_path / "rules.yaml", text)
    with pytest.raises(RuleError) as info:
        load_rules_file(path)
    err = info.value
    assert err.file == str(path) and err.key == key, str(err)
    assert fragment in str(err) and str(err).startswith(f"{path}: {key}: ")


def test_every_wrong_key_of_a_rule_is_named_once(tmp_path):
    path = write(tmp_path / "rules.yaml", "name: r\nquery: 'a AND ('\nrecipients: [nobody]\nmode: weekly\n")
    with pytest.raises(RuleError) as info:
        load_rules_file(path)
    assert [key for key, _ in info.value.problems] == ["query", "recipients", "mode"]
    assert str(info.value).startswith(f"{path}: query: invalid query") and "; recipients: not an email" in str(info.value)


def test_yaml_syntax_error_has_line(tmp_path):
    path = write(tmp_path / "broken.yaml", "name: r\nquery: [unclosed\n")
    with pytest.raises(RuleError, match=r"broken.yaml: line \d+"):
        load_rules_file(path)


def test_ruleset_picks_up_added_changed_removed_files(tmp_path):
    rs = RuleSet(tmp_path, rules=[{"name": "cfg", "query": "config"}])
    assert [r.name for r in rs] == ["cfg"]
    v = rs.version
    write(tmp_path / "one.yaml", "query: alpha\n")
    assert rs.refresh() and [r.name for r in rs] == ["cfg", "one"] and rs.version > v
    assert not rs.refresh()  # nothing changed: no re-read
    write(tmp_path / "one.yaml", "query: beta\n")
    assert rs.refresh() and rs.get("one").query == "beta"
    write(tmp_path / "one.yaml", "query: 'beta AND ('\n")  # broken edit: last good version stays
    assert not rs.refresh()
    assert rs.get("one").query == "beta" and "one.yaml" in next(iter(rs.errors))
    write(tmp_path / "one.yaml", "query: gamma\nenabled: false\n")
    assert rs.refresh() and not rs.errors and [r.name for r in rs.enabled()] == ["cfg"]
    (tmp_path / "one.yaml").unlink()
    assert rs.refresh() and rs.get("one") is None


def test_duplicate_names_keep_first(tmp_path):
    write(tmp_path / "a.yaml", "name: same\nquery: a\n")
    write(tmp_path / "b.yaml", "name: same\nquery: b\n")
    rs = RuleSet(tmp_path)
    assert rs.get("same").query == "a" and any("duplicate" in str(e) for e in rs.errors.values())
    with pytest.raises(RuleError, match="duplicate"):
        RuleSet(tmp_path, strict=True)


def test_a_file_added_later_never_takes_a_rules_name(tmp_path):
    """The rule stays the one already there, though the newcomer's path sorts first: in the running set,
    and read afresh (a restart, the CLI), where the older file keeps it."""
    write(tmp_path / "putin.yaml", "query: putin\n")
    os.utime(tmp_path / "putin.yaml", ns=(1_700_000_000 * 10**9,) * 2)
    running = RuleSet(tmp_path)
    write(tmp_path / "another.yaml", "name: putin\nquery: anything\n")  # newer, and "a" < "p"
    running.refresh()
    for rules in (running, RuleSet(tmp_path)):
        assert rules.get("putin").query == "putin" and rules.origin("putin") == str(tmp_path / "putin.yaml")
        assert [str(e) for e in rules.errors.values()] == [
            f"{tmp_path / 'another.yaml'}: name: duplicate rule name 'putin' (kept as {tmp_path / 'putin.yaml'} has it)"]


def test_strict_load_raises(tmp_path):
    write(tmp_path / "bad.yaml", "query: 'a AND'\n")
    with pytest.raises(RuleError, match="bad.yaml: query"):
        RuleSet(tmp_path, strict=True)


def test_fingerprint_tracks_what_decides_matches():
    base = Rule(name="r", query="a AND  b", sources=["dw", "bbc"])
    assert base.fingerprint == Rule(name="r", query="a AND b", sources=["bbc", "dw"]).fingerprint
    assert base.fingerprint == Rule(name="r", query="a AND b", sources=["bbc", "dw"], recipients=["x@y.z"], mode="daily").fingerprint
    assert base.fingerprint != Rule(name="r", query="a OR b", sources=["bbc", "dw"]).fingerprint
    assert base.fingerprint != Rule(name="r", query="a AND b", sources=["dw"]).fingerprint
    assert base.fingerprint != Rule(name="r", query="a AND b", sources=["bbc", "dw"], languages=["en"]).fingerprint


def test_set_config_rules_replaces_config_part(tmp_path):
    write(tmp_path / "f.yaml", "query: file\n")
    rs = RuleSet(tmp_path, rules=[{"name": "c1", "query": "x"}])
    rs.set_config_rules([{"name": "c2", "query": "y"}])
    assert [r.name for r in rs] == ["c2", "f"]


def test_language_codes_are_lower_case_as_articles_carry_them():
    rule = validate_rule({"name": "r", "query": "pier", "languages": [" EN", "de", ""]})
    assert rule.languages == ["en", "de"]
    with pytest.raises(RuleError) as err:  # would never match: articles carry two-letter codes
        validate_rule({"name": "r", "query": "pier", "languages": ["english", "deu", "en"]})
    assert "not a language code: 'english', 'deu'" in str(err.value) and "languages" in str(err.value)


def test_an_address_listed_twice_is_mailed_once():
    rule = Rule(name="r", query="x", recipients=["desk@example.org", " Desk@Example.org", "ed@example.org"])
    assert rule.recipients == ["desk@example.org", "ed@example.org"]
