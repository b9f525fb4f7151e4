"""Settings of the storage side: the index backend and outgoing mail."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class IndexConfig(BaseModel):
    """No `url` means the embedded SQLite index at `sqlite_path`."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    sqlite_path: str = "./data/index.sqlite3"
    prefix: str = "mediawatch"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    verify_certs: bool = True
    ca_file: str | None = None
    retention_days: int | None = Field(None, ge=1)
    spool_path: str = "./data/spool"
    bulk_size: int = Field(500, ge=1)
    bulk_interval_s: float = Field(2.0, gt=0)

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

    `rules_dir` is a folder of YAML rule files, re-read when a file changes (no restart needed).
    `timezone` (IANA name, default: the host's local zone) is where `daily_at` of a rule is read.
    Failed sends are retried with exponential backoff from `retry_initial_s` up to `retry_max_s`
    between attempts, forever: an alert is never dropped.
    """

    model_config = ConfigDict(extra="forbid")

    from_addr: str = "mediawatch@localhost"
    from_name: str = "mediawatch"
    smtp: SmtpConfig | None = None
    outbox: str = "./data/outbox"
    ledger_path: str = "./data/alerts.sqlite3"
    rules_dir: str | None = None
    timezone: str | None = None
    retry_initial_s: float = Field(30, gt=0)
    retry_max_s: float = Field(3600, gt=0)
    max_per_cycle: int = Field(500, ge=1)
