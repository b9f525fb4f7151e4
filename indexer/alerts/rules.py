"""Alert rules as users declare them, and the rule set that follows a folder of YAML files.

A rule file holds one rule (a mapping; ``name`` defaults to the file's stem), a list of rules, or
``{rules: [...]}``::

    name: belarus-prisoners
    query: Lukashenko AND (prison OR jail) AND NOT sport
    recipients: [desk@example.org]
    notify:                     # optional: chat / webhook channels, Apprise URLs (secrets as ${ENV});
                                #   a message per story, or per digest for hourly / daily rules
      - mmost://chat.example.org/${MATTERMOST_HOOK}
      - json://hooks.example.org/mediawatch
    sources: [dw, bbc]          # optional: only these sources
    languages: [en]             # optional: only these languages
    mode: instant               # instant | hourly | daily
    daily_at: "08:00"           # for mode daily, local time (timezone: IANA name, else MailConfig's)
    enabled: true
    backfill: false             # true: also alert on matching articles indexed before the rule

Every rule is validated when loaded — the query is parsed by ``indexer.query.parse`` — and a failure
is a :class:`RuleError` naming the file and the key (``rules.yaml: rules[2].query: …``). In a rule
file, ``${NAME}`` (or ``${NAME:-default}``) in a ``notify`` URL is read from the environment, as in the
config file; a dump of a rule (``config check``) shows those URLs with their secrets masked.

:class:`RuleSet` re-reads a file only when its mtime or size changed, so calling ``refresh()`` before
each batch is cheap and edits are picked up without a restart. A broken edit keeps that file's last
good rules active and records the error in ``RuleSet.errors``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from datetime import datetime, time as dtime
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal

import structlog
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

from indexer.alerts.channels import check_channel_url, display
from indexer.article import language_codes
from indexer.config import check_timezone
from indexer.yamlfile import key_path, load_yaml, problems

log = structlog.get_logger(__name__)

_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+$")
RULE_SUFFIXES = (".yaml", ".yml")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

ChannelUrl = Annotated[str, AfterValidator(check_channel_url)]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)
    query: str
    recipients: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    mode: Literal["instant", "hourly", "daily"] = "instant"
    notify: list[ChannelUrl] = Field(default_factory=list)
    daily_at: str = "08:00"
    timezone: str | None = None
    enabled: bool = True
    backfill: bool = False
    created_at: datetime | None = None  # optional explicit start; default: when this version was first seen
    description: str = ""

    @field_validator("query")
    @classmethod
    def _query_parses(cls, query: str) -> str:
        from indexer.query import QueryError, parse  # local: keeps model import light

        if not query.strip():
            raise ValueError("query is empty")
        try:
            parse(query)
        except QueryError as err:
            position = getattr(err, "position", None)
            where = f" at position {position}" if position is not None else ""
            message = getattr(err, "message", None) or str(err)
            raise ValueError(f"invalid query{where}: {message}") from None
        return query

    @field_validator("recipients")
    @classmethod
    def _recipients_valid(cls, recipients: list[str]) -> list[str]:
        cleaned: dict[str, str] = {}  # one mail per person: an address listed twice is sent to once
        for r in recipients:
            r = r.strip()
            if not _EMAIL.match(r):
                raise ValueError(f"not an email address: {r!r}")
            cleaned.setdefault(r.casefold(), r)
        return list(cleaned.values())

    @field_serializer("notify")
    def _notify_masked(self, notify: list[str]) -> list[str]:
        return [display(url) for url in notify]

    @field_validator("daily_at")
    @classmethod
    def _time_valid(cls, value: str) -> str:
        try:
            dtime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"daily_at must be HH:MM, got {value!r}") from None
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        # articles carry lower-case ISO 639 codes: "EN" or "english" would never match anything
        codes, wrong = language_codes(value)
        if wrong:
            raise ValueError(f"not a language code: {', '.join(map(repr, wrong))} (ISO 639-1: en, de, ar, ...)")
        return codes

    @field_validator("timezone")
    @classmethod
    def _tz_valid(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @property
    def fingerprint(self) -> str:
        """Hash of what decides *which* articles match: a change here makes the rule 'new' again."""
        payload = {
            "query": " ".join(self.query.split()),
            "sources": sorted(self.sources),
            "languages": sorted(self.languages),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


class RuleError(ValueError):
    """A rule that failed validation: ``file`` (or None for config rules), ``key`` path and message."""

    def __init__(self, file: str | None, key: str, message: str, more: tuple[tuple[str, str], ...] = ()) -> None:
        self.file, self.key, self.message = file, key, message
        self.problems = ((key, message), *more)  # every key found wrong, a key once
        where = f"{file}: " if file else ""
        super().__init__(where + "; ".join(f"{k}: {m}" if k else m for k, m in self.problems))


def validate_rule(data: Any, file: str | None = None, key: str = "") -> Rule:
    if isinstance(data, Rule):
        return data
    if not isinstance(data, dict):
        raise RuleError(file, key, f"a rule must be a mapping, got {type(data).__name__}")
    try:
        return Rule.model_validate(data)
    except ValidationError as err:
        (where, msg), *more = problems(err, key).items()
        raise RuleError(file, where, msg, tuple(more)) from None


def load_rules_file(path: str | Path) -> list[Rule]:
    """All rules of one YAML file; raises RuleError naming the file and the offending key."""
    path = Path(path)
    name = str(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RuleError(name, "", f"{where}invalid YAML: {getattr(err, 'problem', None) or err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RuleError(name, "", f"cannot read: {err}") from None
    if data is None:
        return []
    if isinstance(data, dict) and "rules" in data and "query" not in data:
        items, prefix = data["rules"], "rules"
        if not isinstance(items, list):
            raise RuleError(name, "rules", "must be a list of rules")
    elif isinstance(data, list):
        items, prefix = data, ""
    elif isinstance(data, dict):
        single = dict(data)
        single.setdefault("name", path.stem)
        return [validate_rule(with_env(single, name, ""), name, "")]
    else:
        raise RuleError(name, "", "expected a rule mapping, a list of rules or {rules: [...]}")
    return [validate_rule(with_env(item, name, f"{prefix}[{i}]"), name, f"{prefix}[{i}]")
            for i, item in enumerate(items)]


def env_references(value: str) -> set[str]:
    """The ``${NAME}`` references in a ``notify`` URL, which the rules folder fills in from the daemon's
    environment when it reads the file."""
    return {m.group(1) for m in _ENV_REF.finditer(value)}


def with_env(data: Any, file: str, key: str) -> Any:
    """``${NAME}`` in the ``notify`` URLs of a rule file, from the environment (the config file's
    rules were resolved with the rest of that file)."""
    if not isinstance(data, dict) or not isinstance(data.get("notify"), list):
        return data
    out = []
    for i, url in enumerate(data["notify"]):
        if isinstance(url, str):
            def sub(match: re.Match[str], i: int = i) -> str:
                name, default = match.group(1), match.group(2)
                if name in os.environ:
                    return os.environ[name]
                if default is not None:
                    return default
                raise RuleError(file, key_path(key, ("notify", i)), f"environment variable ${{{name}}} is not set")

            url = _ENV_REF.sub(sub, url)
        out.append(url)
    return {**data, "notify": out}


class RuleSet:
    """Rules from the config plus a folder of YAML files, re-read by mtime on ``refresh()``."""

    def __init__(self, folder: str | Path | None = None, rules: Iterable[Rule | dict] = (), strict: bool = False) -> None:
        self.folder = Path(folder) if folder else None
        self._config_rules = [validate_rule(r, None, f"rules[{i}]") for i, r in enumerate(rules)]
        self._files: dict[Path, tuple[tuple[int, int], list[Rule]]] = {}
        self.errors: dict[str, RuleError] = {}
        self.version = 0
        self._lock = threading.Lock()
        self._by_name: dict[str, Rule] = {}
        self._origins: dict[str, str | None] = {}  # rule name -> its file, None for the config file
        self._files_dirty = True
        self.refresh(strict=strict)

    def set_config_rules(self, rules: Iterable[Rule | dict]) -> None:
        """Replace the rules declared in the config file (on reload); validated like file rules."""
        validated = [validate_rule(r, None, f"rules[{i}]") for i, r in enumerate(rules)]
        with self._lock:
            self._config_rules = validated
            self._files_dirty = True
        self.refresh()

    def _scan(self) -> list[Path]:
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()
                      and not p.name.startswith("."))

    def refresh(self, strict: bool = False) -> bool:
        """Pick up added, changed and removed files; True if the set of rules changed.

        With ``strict`` the first error raises instead of being recorded."""
        with self._lock:
            changed = False
            present = self._scan()
            for gone in set(self._files) - set(present):
                del self._files[gone]
                self.errors.pop(str(gone), None)
                changed = True
            for path in present:
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                stamp = (st.st_mtime_ns, st.st_size)
                known = self._files.get(path)
                if known is not None and known[0] == stamp:
                    continue
                try:
                    rules = load_rules_file(path)
                except RuleError as err:
                    if strict:
                        raise
                    if str(path) not in self.errors or str(self.errors[str(path)]) != str(err):
                        log.error("alerts.rule_file_rejected", error=str(err),
                                  kept="its last good version" if known and known[1] else "nothing: it never loaded")
                    self.errors[str(path)] = err
                    # Keep the previous good rules but remember the stamp so we don't re-log every call.
                    self._files[path] = (stamp, known[1] if known else [])
                    continue
                self.errors.pop(str(path), None)
                self._files[path] = (stamp, rules)
                changed = True
            if self._files_dirty:
                changed, self._files_dirty = True, False
            if changed or not self._by_name:
                by_name: dict[str, Rule] = {}
                origins: dict[str, str | None] = {}
                dup_errors: dict[str, RuleError] = {}
                # Of two files naming one rule, the one that had it keeps it, else the older: a file added
                # later never takes a rule's name (and query) from the file that was there first.
                held = set(self._origins.values())
                files = sorted(self._files.items(), key=lambda f: (str(f[0]) not in held, f[1][0][0], str(f[0])))
                sources: list[tuple[str | None, list[Rule]]] = [(None, self._config_rules)]
                sources += [(str(p), rules) for p, (_s, rules) in files]
                for origin, rules in sources:
                    for rule in rules:
                        if rule.name in by_name:
                            first = origins[rule.name] or "the config file"
                            err = RuleError(origin, "name", f"duplicate rule name {rule.name!r} (kept as {first} has it)")
                            if strict:
                                raise err
                            dup_errors[f"{origin}#{rule.name}"] = err
                            continue
                        by_name[rule.name] = rule
                        origins[rule.name] = origin
                self._origins = origins
                for k, err in dup_errors.items():
                    if k not in self.errors:
                        log.error("alerts.rule_rejected", error=str(err))
                self.errors = {k: v for k, v in self.errors.items() if "#" not in k} | dup_errors
                old = self._by_name
                self._by_name = by_name
                if old != by_name:
                    self.version += 1
                    changed = True
                else:
                    changed = False
            return changed

    def rules(self) -> list[Rule]:
        return sorted(self._by_name.values(), key=lambda r: r.name)

    def enabled(self) -> list[Rule]:
        return [r for r in self.rules() if r.enabled]

    def get(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    def origin(self, name: str) -> str | None:
        """The file that defines the rule, None for a rule of the config file."""
        return self._origins.get(name)

    def alone(self, name: str) -> bool:
        """Whether the rule is the only one of its file (a rule of the config file is not)."""
        origin = self._origins.get(name)
        known = self._files.get(Path(origin)) if origin is not None else None
        return known is not None and len(known[1]) == 1

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self):
        return iter(self.rules())
