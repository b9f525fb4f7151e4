"""Fault 6: config fuzz. Broken YAML, unknown keys, wrong types, missing secrets, hand-made and
generated (hypothesis mutations of the bundled ``mediawatch.yaml``): ``mediawatch config check``
either accepts the file (exit 0, one "config ok" line) or refuses it with exit code 2 and stderr lines
``mediawatch: config error: FILE: KEY: what is wrong``, one per problem, one of which names the key the
mutation touched. Never a traceback, never exit 1, never a hang.

Each case is one run of the real CLI in a process of its own, a few at a time: the batches fork each run
from a process that imported the CLI once (tests/harness/cliforks.py), the single cases start
``python -m scheduler.cli``."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from tests.harness.cliforks import ForkedCli
from tests.harness.project import REPO, cli_env

pytestmark = pytest.mark.timeout(240)

BUNDLED = REPO / "mediawatch.yaml"
BASE = yaml.safe_load(BUNDLED.read_text())
WORKERS = 3


@dataclass
class Case:
    name: str
    text: str | bytes
    key: str | tuple[str, ...] | None  # the key the error must name (or one of them); None: anything
    env: dict[str, str] | None = None
    expect_valid: bool = False
    timeout: float = 30
    may_be_valid: bool = False  # generated: the mutation may happen to leave a valid file


@dataclass
class Outcome:
    case: Case
    path: Path
    code: int | None
    stdout: str
    stderr: str


class _NoAliases(yaml.SafeDumper):
    """A copied sub-document is written out twice, as a person would, not as an alias."""

    def ignore_aliases(self, data):
        return True


def write_case(case: Case, folder: Path) -> Path:
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', case.name)[:80]}.yaml"
    if isinstance(case.text, bytes):
        path.write_bytes(case.text)
    else:
        path.write_text(case.text, encoding="utf-8")
    return path


def run_case(case: Case, folder: Path) -> Outcome:
    """One case through ``python -m scheduler.cli``, the entry point as installed."""
    path = write_case(case, folder)
    try:
        proc = subprocess.run([sys.executable, "-m", "scheduler.cli", "--config", str(path), "config", "check"],
                              cwd=folder, capture_output=True, text=True, timeout=case.timeout,
                              env=cli_env(**(case.env or {})))
        return Outcome(case, path, proc.returncode, proc.stdout, proc.stderr)
    except subprocess.TimeoutExpired as err:
        return Outcome(case, path, None, "", f"timed out after {case.timeout}s: {str(err.stderr or '')[-300:]}")


def verdict(o: Outcome) -> str | None:
    """None if the outcome keeps the promise, else what is wrong."""
    lines = o.stderr.splitlines()
    if o.code is None:
        return f"hangs: {o.stderr}"
    if "Traceback" in o.stderr:
        return f"traceback: {o.stderr[-500:]}"
    if o.code == 0:
        if o.case.key is not None and not (o.case.expect_valid or o.case.may_be_valid):
            return f"accepted (exit 0) although {o.case.key!r} is wrong"
        if len(lines) != 1 or not lines[0].startswith("config ok:"):
            return f"exit 0 but stderr is {lines!r}"
        yaml.safe_load(o.stdout)
        return None
    if o.code != 2:
        return f"exit {o.code}: {o.stderr[-500:]}"
    if o.case.expect_valid:
        return f"refused a valid file: {o.stderr.strip()}"
    prefix = f"mediawatch: config error: {o.path}: "
    if not lines or not all(line.startswith(prefix) for line in lines):
        return f"not every line starts with {prefix!r}: {lines!r}"
    rest = lines[0][len(prefix):]
    if rest.startswith("invalid YAML") and not re.search(r"line \d+, column \d+", rest):
        return f"invalid YAML without a position: {rest!r}"
    if o.case.key is None:
        return None
    keys = o.case.key if isinstance(o.case.key, tuple) else (o.case.key,)
    if "" in keys and (rest.startswith("invalid YAML") or ": " not in rest or rest.startswith(("not UTF-8",
                                                                                               "the top level"))):
        return None  # a file-level problem ("" in keys), said with its position
    named = [line[len(prefix):].split(": ", 1)[0] for line in lines if ": " in line[len(prefix):]]
    if not any(k and related(n, k) for k in keys for n in named):
        return f"names {named!r}, not the key {o.case.key!r}: {lines!r}"
    return None


def related(named: str, key: str) -> bool:
    """The key named by the error is the mutated key, one of its parents, or inside it."""
    def parts(k: str) -> list[str]:
        return [p for p in re.split(r"\.|(?=\[)", k) if p]

    a, b = parts(named), parts(key)
    n = min(len(a), len(b))
    return bool(a) and a[:n] == b[:n]


def run_cases(cases: list[Case], folder: Path) -> list[Outcome]:
    """Like ``run_case`` for each case, a process per case, forked from one that imported the CLI."""
    outcomes = []
    with ForkedCli() as cli:
        for case in cases:
            path = write_case(case, folder)
            code, out, err = cli.run(["--config", str(path), "config", "check"], folder, case.timeout, case.env)
            if code is None:
                err = f"timed out after {case.timeout}s: {err[-300:]}"
            outcomes.append(Outcome(case, path, code, out, err))
    return outcomes


def check_all(cases: list[Case]) -> None:
    with tempfile.TemporaryDirectory(prefix="mw-cfg-") as tmp:
        folder = Path(tmp)
        with ThreadPoolExecutor(WORKERS) as pool:
            outcomes = [o for part in pool.map(lambda i: run_cases(cases[i::WORKERS], folder), range(WORKERS))
                        for o in part]
    bad = [f"{o.case.name}: {v}" for o in outcomes if (v := verdict(o))]
    assert not bad, "\n".join(bad)


def dump(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_NoAliases, sort_keys=False, allow_unicode=True)


def with_(path: str, value, doc: dict | None = None) -> str:
    """The bundled config with ``path`` (dots and [i]) set to ``value``."""
    doc = copy.deepcopy(BASE if doc is None else doc)
    node, parts = doc, [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return dump(doc)


BOMB = "a: &a [" + ",".join(['"x"'] * 10) + "]\n" + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh")) + "data_dir: *h\n"

HAND = [
    # broken YAML
    Case("unclosed bracket", "data_dir: [./data\nindex: {}\n", ""),
    Case("tab indentation", "index:\n\tsqlite_path: x\n", ""),
    Case("bad indentation", "index:\n  sqlite_path: x\n bulk_size: 3\n", ""),
    Case("stray colon", BUNDLED.read_text().replace("data_dir: ./data", "data_dir: : ./data"), ""),
    Case("unknown tag", "data_dir: !!python/object/apply:os.system ['true']\n", ""),
    Case("undefined alias", "data_dir: *nope\n", ""),
    Case("not UTF-8", b"data_dir: caf\xe9\n", ""),
    Case("a list at the top", "- a\n- b\n", ""),
    Case("a scalar at the top", "just a string\n", ""),
    Case("YAML alias bomb", BOMB, ("data_dir", ""), timeout=6),
    # unknown keys, at every level
    Case("unknown top key", BUNDLED.read_text() + "colour: blue\n", "colour"),
    Case("typo in index", with_("index.bulk_sise", 5), "index.bulk_sise"),
    Case("typo in mail", with_("mail.from_adress", "x@y"), "mail.from_adress"),
    Case("typo in smtp", with_("mail.smtp", {"host": "h", "prot": 25}), "mail.smtp.prot"),
    Case("typo in crawl", with_("crawl.obey_robot", False), "crawl.obey_robot"),
    Case("typo in http", with_("http.prot", 1), "http.prot"),
    Case("typo in log", with_("log.lvl", "info"), "log.lvl"),
    Case("typo in a source", with_("sources[2].feed", ["http://x/"]), "sources[2].feed"),
    Case("typo in a schedule", with_("sources[1].schedule.evry", "5m"), "sources[1].schedule.evry"),
    Case("typo in sections", with_("sources[0].sections", {"url": ["http://x/"]}), "sources[0].sections.url"),
    Case("typo in a rule", with_("rules[0].recipient", ["a@b"]), "rules[0].recipient"),
    Case("index block twice", BUNDLED.read_text() + "index:\n  bulk_size: 7\n", ("index", "")),
    # wrong types and values
    Case("bulk_size text", with_("index.bulk_size", "lots"), "index.bulk_size"),
    Case("bulk_size zero", with_("index.bulk_size", 0), "index.bulk_size"),
    Case("health_port too big", with_("http.health_port", 70000), "http.health_port"),
    Case("delay negative", with_("crawl.download_delay", -1), "crawl.download_delay"),
    Case("sources a mapping", with_("sources", {"a": 1}), "sources"),
    Case("rules a string", with_("rules", "lukashenko"), "rules"),
    Case("index a number", with_("index", 5), "index"),
    Case("mode weekly", with_("rules[0].mode", "weekly"), "rules[0].mode"),
    Case("log level loud", with_("log.level", "loud"), "log.level"),
    Case("every in words", with_("sources[0].schedule.every", "five minutes"), "sources[0].schedule.every"),
    Case("cron 3 fields", with_("sources[0].schedule", {"cron": "* * *"}), "sources[0].schedule"),
    Case("cron out of range", with_("sources[0].schedule", {"cron": "99 99 * * *"}), "sources[0].schedule"),
    Case("cron on a day that never comes", with_("sources[0].schedule", {"cron": "0 0 31 2 *"}),
         "sources[0].schedule"),
    Case("feed not http", with_("sources[0].feeds", ["ftp://x/feed"]), "sources[0].feeds"),
    Case("feed port out of range", with_("sources[0].feeds", ["http://x.example:65536/feed"]), "sources[0].feeds"),
    Case("section without a host", with_("sources[0].sections", {"urls": ["http:///news/"]}), "sources[0].sections.urls"),
    Case("feeds a string", with_("sources[0].feeds", "http://x/feed"), "sources[0].feeds"),
    Case("source name with spaces", with_("sources[0].name", "dw en"), "sources[0].name"),
    Case("duplicate source names", with_("sources[1].name", "dw-en"), "sources[1].name"),
    Case("duplicate rule names", with_("rules", [BASE["rules"][0], BASE["rules"][0]]), "rules[1].name"),
    Case("bad regex", with_("sources[0].sections", {"urls": ["http://x/"], "allow": ["(oops"]}),
         "sources[0].sections.allow"),
    Case("bad query", with_("rules[0].query", "Lukashenko AND ("), "rules[0].query"),
    Case("daily_at 25:99", with_("rules[0].daily_at", "25:99"), "rules[0].daily_at"),
    Case("unknown rule timezone", with_("rules[0].timezone", "Mars/Olympus"), "rules[0].timezone"),
    Case("unknown mail timezone", with_("mail.timezone", "Mars/Olympus"), "mail.timezone"),
    Case("tls maybe", with_("mail.smtp", {"host": "h", "tls": "maybe"}), "mail.smtp.tls"),
    Case("smtp without host", with_("mail.smtp", {"port": 25}), "mail.smtp.host"),
    Case("rule without query", with_("rules[0]", {"name": "r"}), "rules[0].query"),
    Case("source without name", with_("sources[0]", {"feeds": ["http://x/"]}), "sources[0].name"),
    Case("source without entry point", with_("sources[0]", {"name": "empty"}), "sources[0]"),
    Case("verify_certs maybe", with_("index.verify_certs", "maybe"), "index.verify_certs"),
    Case("retention zero", with_("index.retention_days", 0), "index.retention_days"),
    # secrets
    Case("missing smtp password", with_("mail.smtp", {"host": "h", "password": "${MW_FUZZ_UNSET_PW}"}),
         "mail.smtp.password"),
    Case("missing index api key", with_("index.api_key", "${MW_FUZZ_UNSET_KEY}"), "index.api_key"),
    Case("missing var in a list", with_("rules[0].recipients", ["a@b", "${MW_FUZZ_UNSET_TO}"]),
         "rules[0].recipients[1]"),
    Case("secret set", with_("mail.smtp", {"host": "h", "password": "${MW_FUZZ_SET_PW}"}), None,
         env={"MW_FUZZ_SET_PW": "hunter2"}, expect_valid=True),
    Case("secret default", with_("index.password", "${MW_FUZZ_UNSET_PW:-fallback}"), None, expect_valid=True),
    # valid files
    Case("the bundled file", BUNDLED.read_text(), None, expect_valid=True),
    Case("empty file", "", None, expect_valid=True),
    Case("comments only", "# nothing here\n", None, expect_valid=True),
]


def test_hand_made_config_errors():
    check_all(HAND)


def test_secrets_never_printed():
    with tempfile.TemporaryDirectory() as tmp:
        case = Case("secrets", with_("mail.smtp", {"host": "h", "password": "${MW_FUZZ_PW}"},
                                     yaml.safe_load(with_("index.api_key", "${MW_FUZZ_KEY}"))), None,
                    env={"MW_FUZZ_PW": "s3cr3t-smtp", "MW_FUZZ_KEY": "s3cr3t-key"}, expect_valid=True)
        o = run_case(case, Path(tmp))
    assert verdict(o) is None, verdict(o)
    assert "s3cr3t" not in o.stdout + o.stderr
    assert yaml.safe_load(o.stdout)["mail"]["smtp"]["password"] == "********"


def test_data_dir_is_the_home_of_every_default_path():
    """CONFIGURATION.md: ``data_dir`` is 'the default home of every path below'."""
    with tempfile.TemporaryDirectory() as tmp:
        o = run_case(Case("data_dir only", "data_dir: /srv/mediawatch-state\n", None, expect_valid=True), Path(tmp))
    assert verdict(o) is None, verdict(o)
    eff = yaml.safe_load(o.stdout)
    paths = {"index.sqlite_path": eff["index"]["sqlite_path"], "index.spool_path": eff["index"]["spool_path"],
             "mail.outbox": eff["mail"]["outbox"], "mail.ledger_path": eff["mail"]["ledger_path"],
             "crawl.state_path": eff["crawl"]["state_path"]}
    outside = {k: v for k, v in paths.items() if not v.startswith("/srv/mediawatch-state/")}
    assert not outside, f"with data_dir set, these still default elsewhere: {outside}"


# -- generated -----------------------------------------------------------------------------------
def _paths(node, prefix: str = "") -> list[str]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{prefix}.{k}" if prefix else k
            out.append(p)
            out += _paths(v, p)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            p = f"{prefix}[{i}]"
            out.append(p)
            out += _paths(v, p)
    return out


PATHS = _paths(BASE)
# keys the bundled file leaves out, to give values of every type
OPTIONAL = ["index.url", "index.bulk_size", "index.bulk_interval_s", "index.verify_certs", "index.prefix",
            "mail.smtp", "mail.smtp.port", "mail.smtp.tls", "mail.max_per_cycle", "crawl.download_delay",
            "crawl.max_redirects", "crawl.obey_robots", "crawl.extraction_pool", "http.host", "log.level",
            "log.format", "sources[0].max_page_bytes", "sources[1].enabled", "sources[2].sections",
            "sources[3].schedule.jitter", "rules[0].languages", "rules[0].daily_at", "rules_dir"]
values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["${MW_FUZZ_UNSET}", "${MW_FUZZ_UNSET:-5}", "15m", "0s", "http://x/",
                                           "ftp://x/", "instant", "none", "8:00", "json", "*", "0-1"]),
    st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
    st.dictionaries(st.sampled_from(["x", "host", "every", "name", "query"]), st.text(max_size=5), max_size=2),
)


@st.composite
def mutation(draw) -> Case:
    op = draw(st.sampled_from(["set", "set", "set_optional", "delete", "rename", "add_unknown", "text"]))
    doc = copy.deepcopy(BASE)
    if op == "text":  # a character-level edit of the file's text
        text = BUNDLED.read_text()
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "truncate"]))
        if edit == "insert":
            text = text[:at] + draw(st.sampled_from(list(":{}[]&*!|>'\"%@`\t#-?,\n "))) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at]
        return Case(f"text {edit} at {at}", text, None)
    path = draw(st.sampled_from(OPTIONAL if op == "set_optional" else PATHS))
    if op in ("set", "set_optional"):
        value = draw(values)
        # a block the bundled file does not have (mail.smtp...) is created by the edit: an error may
        # then name any key of that new block
        key = path
        while "." in key and key.rsplit(".", 1)[0] not in PATHS:
            key = key.rsplit(".", 1)[0]
        return Case(f"{path} = {value!r}"[:120], with_(path, value, doc), key)
    parent_path, _, last = path.rpartition(".")
    if "[" in last and last.endswith("]") and not parent_path:
        parent_path, last = path.split("[", 1)[0], ""
    node = doc
    for p in [p for p in re.split(r"\.|\[(\d+)\]", parent_path) if p]:
        node = node[int(p)] if p.isdigit() else node[p]
    if not isinstance(node, dict) or last not in node:
        return Case(f"noop {path}", dump(doc), None, expect_valid=True)
    if op == "delete":
        del node[last]
        return Case(f"delete {path}", dump(doc), path)
    if op == "rename":
        new = last + draw(st.sampled_from(["s", "_", "x", "2"]))
        node[new] = node.pop(last)
        # either the new, unknown key or the now missing one is a fine thing to name
        return Case(f"rename {path} -> {new}", dump(doc), (f"{parent_path}.{new}" if parent_path else new, path))
    unknown = draw(st.sampled_from(["extra", "colour", "enable", "timeout"]))
    node[unknown] = draw(values)
    return Case(f"unknown key {parent_path}.{unknown}", dump(doc), f"{parent_path}.{unknown}" if parent_path
                else unknown)


@settings(max_examples=2, deadline=None, phases=[Phase.generate], database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(mutation(), min_size=12, max_size=12))
def test_generated_config_mutations(cases):
    # a deleted key may have been optional, a text edit or a value may happen to be valid: exit 0 is
    # fine then; anything refused must be refused with one line naming the touched key
    for c in cases:
        c.may_be_valid = True
    check_all(cases)
