"""Settings of the storage side: the index backend and outgoing mail."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


def check_timezone(value: str | None) -> str | None:
    """An IANA zone name (or None); the error names the value."""
    if value is not None:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"unknown timezone {value!r}") from None
    return value


class IndexConfig(BaseModel):
    """No `url` means the embedded SQLite index at `sqlite_path`.

    Elasticsearch: `prefix` names the template (`<prefix>-articles`), the indices
    (`<prefix>-articles-000001`...), the read alias `<prefix>-articles` and the write alias
    `<prefix>-articles-write`. Auth is `username`+`password` (basic) or `api_key` (secrets: the config
    layer resolves `${ENV}`; they are SecretStr and never logged). TLS certificates are verified unless
    `verify_certs: false`; `ca_file` is a CA bundle. `refresh` is passed to bulk requests ("wait_for" makes
    documents searchable before `index()` returns; tests use it). Rollover (by ILM when the cluster has it,
    else by `init()`/maintenance) happens at `rollover_max_age` or `rollover_max_primary_size` or
    `rollover_max_docs`. `replicas` is `index.auto_expand_replicas` ("0-1": none on a single node);
    `refresh_interval` is the index setting (alerts hook into the ingest path, not into search, so a few
    seconds cost nothing and help bulk throughput).

    Stories: an article joins the story of a near-duplicate (indexer.stories) whose date (published, else
    indexed) is within `story_window_days` of its own; older articles start new stories.

    `index_original_text` (default on) also indexes the unfolded text fields, so `text:word` typed in
    Kibana's search bar finds articles (at some indexing CPU in Elasticsearch: docs/PERFORMANCE.md);
    the folded fields serve every mediawatch query either way.

    Ingest: a batch goes out at `bulk_size` articles or after `bulk_interval_s`, as bulk requests of
    about 250 articles, `bulk_concurrency` of them in flight at once; a failing batch is retried
    `retry_attempts` times with exponential backoff from `retry_backoff_s`, then spooled to `spool_path`
    (a directory) and replayed in order once the backend answers (probed every `probe_interval_s`, doubling
    up to `probe_max_s`).
    """

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    sqlite_path: str = "./data/index.sqlite3"
    prefix: str = Field("mediawatch", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    verify_certs: bool = True
    ca_file: str | None = None
    request_timeout_s: float = Field(30.0, gt=0)
    refresh: Literal["false", "true", "wait_for"] = "false"
    shards: int = Field(1, ge=1)
    replicas: str = "0-1"
    refresh_interval: str = "5s"
    rollover_max_age: str = "30d"
    rollover_max_primary_size: str = "30gb"
    rollover_max_docs: int | None = Field(None, ge=1)
    index_original_text: bool = True
    retention_days: int | None = Field(None, ge=1)
    # the daemon's housekeeping (retention, then maintenance) runs this long after its start, then daily
    housekeeping_delay_s: float = Field(60.0, gt=0)
    story_window_days: int = Field(7, ge=1)
    spool_path: str = "./data/spool"
    bulk_size: int = Field(4000, ge=1)
    bulk_concurrency: int = Field(3, ge=1, le=16)
    bulk_interval_s: float = Field(2.0, gt=0)
    retry_attempts: int = Field(3, ge=0)
    retry_backoff_s: float = Field(0.5, ge=0)
    probe_interval_s: float = Field(5.0, gt=0)
    probe_max_s: float = Field(60.0, gt=0)

    @field_validator("refresh", mode="before")
    @classmethod
    def _refresh_as_written(cls, value: object) -> object:
        # YAML reads an unquoted false / true as booleans: the values the docs list, written plainly
        return str(value).lower() if isinstance(value, bool) else value

    @property
    def backend(self) -> str:
        return "elasticsearch" if self.url else "sqlite"


class SmtpConfig(BaseModel):
    """Outgoing SMTP. `tls`: none (plain), starttls (upgrade after EHLO), ssl (implicit TLS, 465).

    `password` is a SecretStr: the config layer resolves it from the environment; it is never logged.
    """

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(25, ge=1, le=65535)
    tls: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(30, gt=0)
    verify_certs: bool = True
    ca_file: str | None = None
    local_hostname: str | None = None


class MailConfig(BaseModel):
    """No `smtp` means messages are written as .eml files to `outbox`.

    `timezone` (IANA name, default: the host's local zone) is where `daily_at` of a rule is read.
    Failed sends are retried with exponential backoff from `retry_initial_s` up to `retry_max_s`
    between attempts, forever: an alert is never dropped; the daemon looks for what is due
    every `sweep_interval_s`.
    """

    model_config = ConfigDict(extra="forbid")

    from_addr: str = "mediawatch@localhost"
    from_name: str = "mediawatch"
    smtp: SmtpConfig | None = None
    outbox: str = "./data/outbox"
    ledger_path: str = "./data/alerts.sqlite3"
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz_valid(cls, value: str | None) -> str | None:
        return check_timezone(value)
    # Who hears about the service itself (a source gone quiet), not about articles.
    operators: list[str] = Field(default_factory=list)
    retry_initial_s: float = Field(30, gt=0)
    retry_max_s: float = Field(3600, gt=0)
    # How often the daemon sends what is due: retries whose wait is over, digests whose time came.
    sweep_interval_s: float = Field(30, gt=0)
    max_per_cycle: int = Field(500, ge=1)
    # A digest mail lists this many stories, the newest; it counts the rest. At about 1.7 KB a story, a broad
    # rule's day could outgrow what mail servers take (10-25 MB), and a refused mail would be retried forever.
    digest_max_stories: int = Field(500, ge=1)
