"""Load and validate mediawatch.yaml: one file, pydantic models, `${ENV}` secrets.

Each package declares the settings it owns (crawler.sources, indexer.config,
indexer.alerts.rules); this module composes them and turns every failure into a
ConfigError naming the file, and for each problem found the key path and what is wrong: a file
fixed by hand should need one round of `config check`, not one per mistake.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from crawler.sources import CrawlSettings, Source
from indexer.addresses import networks
from indexer.alerts.rules import Rule
from indexer.config import IndexConfig, MailConfig
from indexer.yamlfile import key_path, load_yaml, problems

ENV_VAR = "MEDIAWATCH_CONFIG"
DEFAULT_PATH = "mediawatch.yaml"
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """``key`` and ``message`` are the first problem; ``problems`` all of them, in file order."""

    def __init__(self, path: str | Path, key: str, message: str,
                 more: tuple[tuple[str, str], ...] = ()) -> None:
        self.path, self.key, self.message = str(path), key, message
        self.problems = ((key, message), *more)
        super().__init__("\n".join(f"{self.path}: {k}: {m}" if k else f"{self.path}: {m}" for k, m in self.problems))


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The web app, /healthz and /metrics share this listener; beyond loopback it needs $MEDIAWATCH_WEB_TOKEN.
    host: str = "127.0.0.1"
    # null: no listener. health_port is its former name, still read.
    port: int | None = Field(9410, ge=0, le=65535, validation_alias=AliasChoices("port", "health_port"))
    # /healthz: a source failing this many crawls in a row is a reason (every source: failing).
    failing_after_runs: int = Field(3, ge=1)
    # /healthz: a scheduled job this many seconds past its run time makes the daemon "degraded".
    late_after_s: float = Field(60.0, gt=0)
    # Private networks a chat or webhook URL typed into the web app may reach (a self-hosted Mattermost).
    notify_networks: list[str] = Field(default_factory=list)

    @field_validator("notify_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(net) for net in networks(value)]  # ValueError names the bad entry

    @property
    def health_port(self) -> int | None:
        return self.port


class LogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = Field("info", pattern=r"^(debug|info|warning|error)$")
    format: str = Field("auto", pattern=r"^(auto|json|console)$")


class ClusterConfig(BaseModel):
    """Several daemons, one service: shared state in PostgreSQL (see docs/SCALING.md)."""

    model_config = ConfigDict(extra="forbid")

    # postgresql://user:${PGPASSWORD}@host:5432/mediawatch (a libpq URL); secret: masked by `config check`
    postgres: SecretStr
    # A daemon holds a source this long without renewing it; a dead daemon's sources go to another
    # within about this long.
    lease_seconds: float = Field(60.0, ge=1, le=3600)
    # Crawls one daemon runs at once; a tick takes at most this many due sources (fewer when other
    # daemons are alive: its share of what is due).
    max_running: int = Field(16, ge=1, le=1000)
    # This daemon's name in `mediawatch cluster status` (default host:pid); unique per daemon.
    node: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("postgres")
    @classmethod
    def _libpq_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: str = "./data"
    index: IndexConfig = Field(default_factory=IndexConfig)
    mail: MailConfig = Field(default_factory=MailConfig)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    http: HttpConfig = Field(default_factory=HttpConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    sources: list[Source] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    rules_dir: str | None = None
    cluster: ClusterConfig | None = None

    def source(self, name: str) -> Source:
        for src in self.sources:
            if src.name == name:
                return src
        raise KeyError(name)


# State that lives in data_dir unless the file names another place for it.
_STATE_PATHS = (("index", "sqlite_path"), ("index", "spool_path"), ("mail", "outbox"),
                ("mail", "ledger_path"), ("crawl", "state_path"))


def resolve_path(config: Config, base: Path) -> Config:
    """Relative paths in the file are relative to the file, not to the working directory."""

    def fix(value: str | None) -> str | None:
        if value is None or os.path.isabs(value):
            return value
        return str((base / value).resolve())

    config.data_dir = fix(config.data_dir)
    data = Path(config.data_dir)
    for section, key in _STATE_PATHS:
        model = getattr(config, section)
        if key in model.model_fields_set:
            setattr(model, key, fix(getattr(model, key)))
        else:
            setattr(model, key, str(data / Path(getattr(model, key)).name))
    config.index.ca_file = fix(config.index.ca_file)
    if config.mail.smtp is not None:
        config.mail.smtp.ca_file = fix(config.mail.smtp.ca_file)
    config.rules_dir = fix(config.rules_dir)
    return config


def _interpolate(node: Any, path: str, env: dict[str, str], missing: dict[str, str]) -> Any:
    """``${NAME}`` and ``${NAME:-default}`` filled in from ``env``; a variable that is not set is noted in
    ``missing`` (its key path: why) and left empty, so every other mistake of the file is found too."""
    if isinstance(node, dict):
        return {k: _interpolate(v, key_path(path, (str(k),)), env, missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, key_path(path, (i,)), env, missing) for i, v in enumerate(node)]
    if isinstance(node, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            missing[path] = f"environment variable ${{{name}}} is not set"
            return ""

        return _REF.sub(sub, node)
    return node


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def load(path: str | Path, env: dict[str, str] | None = None) -> Config:
    path = Path(path)
    env = dict(os.environ) if env is None else env
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(path, "", "a folder, not a file") from None
    except OSError as err:
        raise ConfigError(path, "", f"cannot read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(path, "", f"not UTF-8 text ({err.reason})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(path, "", f"invalid YAML: {where}{problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, "", f"the top level must be a mapping, not {type(raw).__name__}")
    missing: dict[str, str] = {}
    raw = _interpolate(raw, "", env, missing)
    # said with the other mistakes, not in a second round (a key left empty for lack of its variable: the
    # variable, not the empty value)
    found = _duplicate_names(raw) | missing
    try:
        config = Config.model_validate(raw)
    except ValidationError as err:
        raise _error(path, problems(err) | found) from None
    if found:
        raise _error(path, found)
    if config.cluster is not None:
        _check_cluster(config, path)
    return resolve_path(config, path.resolve().parent)


def _duplicate_names(raw: dict) -> dict[str, str]:
    """``sources[i].name`` / ``rules[i].name`` that an earlier item of the list has, read from the file as
    written (so they are found even when other keys are wrong)."""
    found: dict[str, str] = {}
    for kind in ("sources", "rules"):
        items = raw.get(kind)
        first: dict[str, int] = {}
        for i, item in enumerate(items if isinstance(items, list) else []):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in first:
                found[f"{kind}[{i}].name"] = f"duplicate name {name!r} (also {kind}[{first[name]}])"
            first.setdefault(name, i)
    return found


def _error(path: Path, found: dict[str, str]) -> ConfigError:
    (key, message), *more = found.items()
    return ConfigError(path, key, message, tuple(more))


def _check_cluster(config: Config, path: Path) -> None:
    if not config.index.url:
        # every daemon must see every article (stories, search, alerts): one SQLite file cannot be shared
        raise ConfigError(path, "cluster", "several daemons need the Elasticsearch index: set index.url "
                                           "(the embedded SQLite index is one machine's file)")
    try:
        import psycopg  # noqa: F401  (the cluster extra)
    except ImportError:
        raise ConfigError(path, "cluster.postgres", "needs the PostgreSQL driver: pip install 'mediawatch[cluster]'") from None


# a password in a URL's user info (``https://elastic:PASSWORD@host``, a feed behind basic auth)
_USERINFO_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@?#]*:)(?!\*+@)[^@/?#]*@", re.I)  # (not masked yet)


def effective(config: Config) -> dict[str, Any]:
    """The config as it will be used, secrets masked, for `mediawatch config check`."""

    def mask(node: Any) -> Any:
        if isinstance(node, SecretStr):
            return "********"
        if isinstance(node, str) and "@" in node and "://" in node:
            return _USERINFO_PASSWORD.sub(r"\1********@", node)
        if isinstance(node, dict):
            return {k: mask(v) for k, v in node.items()}
        if isinstance(node, list):
            return [mask(v) for v in node]
        return node

    shown = mask(config.model_dump(mode="python"))
    for source, entry in zip(config.sources, shown["sources"]):
        if source.credential_users:  # taken out of its URLs at load: said here, the password left out
            entry["basic_auth"] = source.credential_users
    return shown


def unknown_rule_sources(config: Config, rules: Iterable[Rule]) -> list[str]:
    """A warning per rule filter naming a source the config does not have: most likely a typo, since it
    matches only articles imported from a site of that host name (an import's source)."""
    known = {s.name for s in config.sources}
    return [f"rule {rule.name!r}: source {name!r} is none of the config's sources "
            f"({', '.join(sorted(known)) or 'none'}); it matches only articles imported from that host"
            for rule in rules for name in rule.sources if name not in known]
