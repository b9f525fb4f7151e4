"""Config loading: a broken file names the file and the key; secrets come from the environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.config import ConfigError, effective, load

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mw.yaml"
    path.write_text(text)
    return path


def test_bundled_default_config_is_valid():
    cfg = load(REPO / "mediawatch.yaml")
    assert cfg.index.backend == "sqlite"
    assert any("dw.com" in feed for s in cfg.sources for feed in s.feeds)
    assert cfg.rules[0].query == "Lukashenko AND (prison OR jail)"
    assert cfg.mail.smtp is None and cfg.mail.outbox.endswith("data/outbox")


def test_relative_paths_resolve_against_the_file(tmp_path):
    cfg = load(write(tmp_path, "index: {sqlite_path: sub/x.db}\n"))
    assert cfg.index.sqlite_path == str(tmp_path / "sub" / "x.db")


@pytest.mark.parametrize(
    "text, key, words",
    [
        ("sources:\n  - name: a\n    feeds: [ftp://x]\n", "sources[0].feeds", "http"),
        ("sources:\n  - name: a\n    feedz: [http://x]\n", "sources[0].feedz", "unknown key"),
        ("index: {bulk_size: lots}\n", "index.bulk_size", "integer"),
        ("sources:\n  - name: a\n", "sources[0]", "at least one of"),
        ("rules:\n  - name: r\n    query: 'a AND (b'\n", "rules[0].query", "query"),
        ("mail: {smtp: {host: h, tls: maybe}}\n", "mail.smtp.tls", "none"),
        ("sources:\n  - {name: a, feeds: [http://x], schedule: {every: soon}}\n", "sources[0].schedule", "duration"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, text, key, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    err = info.value
    assert err.path == str(path)
    assert err.key.startswith(key), err
    assert words.lower() in str(err).lower()


def test_broken_yaml_names_line(tmp_path):
    with pytest.raises(ConfigError, match=r"invalid YAML: line \d+, column \d+"):
        load(write(tmp_path, "index:\n  url: [unclosed\n"))


def test_missing_secret_names_key_and_variable(tmp_path):
    path = write(tmp_path, "index:\n  url: http://127.0.0.1:9\n  password: ${MW_TEST_SECRET}\n")
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert info.value.key == "index.password"
    assert "MW_TEST_SECRET" in str(info.value)


def test_secret_from_environment_is_masked(tmp_path):
    path = write(tmp_path, "index:\n  url: http://127.0.0.1:9\n  password: ${MW_TEST_SECRET}\n")
    cfg = load(path, env={"MW_TEST_SECRET": "hunter2"})
    assert cfg.index.password.get_secret_value() == "hunter2"
    shown = effective(cfg)
    assert shown["index"]["password"] == "********"
    assert "hunter2" not in repr(shown)


def test_env_default_syntax(tmp_path):
    cfg = load(write(tmp_path, "index: {url: '${MW_NOPE:-http://127.0.0.1:9200}'}\n"), env={})
    assert cfg.index.url == "http://127.0.0.1:9200"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scheduler.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})


def test_cli_bad_config_exits_2_with_one_message(tmp_path):
    path = write(tmp_path, "sources:\n  - name: a\n    feeds: [http://x]\n    bogus: 1\n")
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "sources[0].bogus" in lines[0] and "unknown key" in lines[0]
    assert result.stdout == ""

def test_cli_bad_config_names_every_wrong_key_once(tmp_path):
    # Five mistakes, each said on its own line, in file order; duplicate names are found once the rest
    # is valid, so they have a file of their own.
    path = write(tmp_path, "index: {retention_dayz: 3}\nhttp: {port: 99999}\n"
                           "sources:\n  - {name: a, feeds: [http://x/], schedule: {every: 15x}}\n"
                           "rules:\n  - {name: r, query: 'a AND (', recipients: [nobody], mode: instant}\n")
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    prefix = f"mediawatch: config error: {path}: "
    lines = result.stderr.splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    keys = [line[len(prefix):].split(": ", 1)[0] for line in lines]
    assert keys == ["index.retention_dayz", "http.port", "sources[0].schedule", "rules[0].query",
                    "rules[0].recipients"], lines
    assert "Value error" not in result.stderr and "not a duration: '15x'" in lines[2]

    dup = write(tmp_path, "sources:\n" + "".join(f"  - {{name: a, feeds: [http://{h}/]}}\n" for h in "xyz"))
    result = run_cli("--config", str(dup), "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"mediawatch: config error: {dup}: sources[1].name: duplicate name 'a' (also sources[0])",
        f"mediawatch: config error: {dup}: sources[2].name: duplicate name 'a' (also sources[0])"]


def test_cli_config_check_says_duplicates_with_the_other_mistakes_and_refuses_a_zero_interval(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: a, feeds: [http://x/], schedule: {every: 0s}}\n"
                           "  - {name: a, feeds: [http://y/]}\nhttp: {port: 99999}\n")
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    keys = [line.split(": ")[3] for line in result.stderr.splitlines()]
    assert keys == ["http.port", "sources[0].schedule", "sources[1].name"], result.stderr
    assert "every must be at least 1s, got '0s'" in result.stderr
    result = run_cli("--config", str(tmp_path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == f"mediawatch: config error: {tmp_path}: a folder, not a file\n"


def test_cli_config_check_reads_the_rules_folder_as_the_daemon_does(tmp_path):
    """A rule file the daemon would reject (broken YAML, a bad key, a name the config already has) fails
    the check, one line each; good files are counted."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "good.yaml").write_text("name: good\nquery: pier\nrecipients: [a@example.org]\n")
    path = write(tmp_path, f"rules_dir: {folder}\n"
                           "rules:\n  - {name: taken, query: harbour, recipients: [a@example.org]}\n")
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == f"config ok: 0 source(s), 2 rule(s) (1 in {folder}), index backend sqlite"
    (folder / "broken.yaml").write_text("name: [broken\n")
    (folder / "bad.yaml").write_text("name: bad\nquery: 'a AND ('\nrecipients: [a@example.org]\n")
    (folder / "twice.yaml").write_text("name: taken\nquery: pier\nrecipients: [a@example.org]\n")
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    said = [line for line in result.stderr.splitlines() if line.startswith("mediawatch: config error: ")]
    assert [line.split(": ")[2] for line in said] == [str(folder / n) for n in ("bad.yaml", "broken.yaml", "twice.yaml")]
    assert "query" in said[0] and "invalid YAML" in said[1] and "duplicate rule name 'taken'" in said[2]
    assert "config ok" not in result.stderr


def test_a_rule_naming_a_source_the_config_lacks_is_warned_of(tmp_path):
    """A rule's `sources:` typo matches nothing crawled: `config check` and `alerts list` say so (a warning,
    exit 0: an imported site's host name is a source too)."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "typo.yaml").write_text("name: typo\nquery: pier\nrecipients: [a@example.org]\nsources: [dw-e]\n")
    path = write(tmp_path, f"rules_dir: {folder}\n"
                           "sources:\n  - {name: dw-en, feeds: ['http://127.0.0.1:9/feed.xml']}\n"
                           "rules:\n  - {name: fine, query: harbour, recipients: [a@example.org], sources: [dw-en]}\n")
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == ["mediawatch: warning: rule 'typo': source 'dw-e' is none of the config's sources (dw-en); "
                        "it matches only articles imported from that host"]
    listed = run_cli("--config", str(path), "alerts", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [ln for ln in listed.stdout.splitlines() if ln.startswith("warning: ")] == [warnings[0].removeprefix("mediawatch: ")]


def test_cli_config_check_prints_effective_config_masked(tmp_path):
    path = write(tmp_path, "mail:\n  smtp: {host: 127.0.0.1, username: u, password: '${MW_PW}'}\n")
    result = subprocess.run([sys.executable, "-m", "scheduler.cli", "--config", str(path), "config", "check"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "MW_PW": "s3cret-pw"})
    assert result.returncode == 0, result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert "password: '********'" in result.stdout


def test_cli_usage_error_exits_2(tmp_path):
    result = run_cli("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "crawl", "extract", "search", "alerts", "sources", "index", "config", "kibana"):
        assert command in result.stdout


def test_every_missing_variable_is_said_with_the_other_mistakes(tmp_path):
    path = write(tmp_path, "index: {password: '${MW_A}', url: 'https://${MW_HOST}:9200'}\n"
                           "mail: {smtp: {host: 127.0.0.1, password: '${MW_B}', port: '${MW_PORT:-25}'}}\n"
                           "log: {level: verbose}\n")
    with pytest.raises(ConfigError) as err:
        load(path, env={"MW_HOST": "es.example"})
    found = dict(err.value.problems)
    assert set(found) == {"index.password", "mail.smtp.password", "log.level"}  # all at once, one round of fixes
    assert found["index.password"] == "environment variable ${MW_A} is not set"
    assert found["mail.smtp.password"] == "environment variable ${MW_B} is not set"


def test_relative_ca_files_are_the_config_folders_and_refresh_takes_plain_booleans(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder, "index: {url: 'https://127.0.0.1:9200', ca_file: certs/es.pem, refresh: true}\n"
                         "mail: {smtp: {host: 127.0.0.1, ca_file: certs/smtp.pem}}\n")
    cfg = load(path, env={})
    assert cfg.index.ca_file == str(folder.resolve() / "certs" / "es.pem")
    assert cfg.mail.smtp.ca_file == str(folder.resolve() / "certs" / "smtp.pem")  # not the working directory's
    assert cfg.index.refresh == "true"
    assert load(write(folder, "index: {refresh: false}\n"), env={}).index.refresh == "false"


def test_config_check_masks_a_password_written_in_a_url(tmp_path):
    path = write(tmp_path, "index: {url: 'http://elastic:${ES_PASS}@127.0.0.1:9299'}\n"
                           "sources:\n  - {name: s, feeds: ['http://reader:${FEED_PASS}@127.0.0.1:9530/feed.xml']}\n")
    shown = str(effective(load(path, env={"ES_PASS": "EsPassword123", "FEED_PASS": "FeedPassword789"})))
    assert "EsPassword123" not in shown and "FeedPassword789" not in shown
    assert "http://elastic:********@127.0.0.1:9299" in shown
    # a source's credentials are taken out of its URLs at load (crawler.sources), and said apart
    assert "'feeds': ['http://127.0.0.1:9530/feed.xml']" in shown
    assert "'basic_auth': ['reader at http://127.0.0.1:9530']" in shown
