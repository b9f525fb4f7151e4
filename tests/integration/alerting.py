"""What the alert tests against a real SMTP server share: a clock the test moves, a mail config with
its ledger and outbox under the test's folder, the Belarus rule, and articles that are each a story of
their own."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from indexer.alerts.rules import Rule
from indexer.article import Article
from indexer.config import MailConfig
from tests.harness.smtp import SmtpServer

T0 = datetime(2024, 5, 1, 12, 10, tzinfo=timezone.utc).timestamp()


BELARUS = "Lukashenko AND (prison OR jail*) AND NOT sport"


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def mail_cfg(tmp_path: Path, server: SmtpServer | None, **kw) -> MailConfig:
    kw.setdefault("retry_initial_s", 10)
    kw.setdefault("retry_max_s", 80)
    return MailConfig(
        from_addr="alerts@mediawatch.test", smtp=server.smtp_config() if server else None,
        outbox=str(tmp_path / "outbox"), ledger_path=str(tmp_path / "alerts.sqlite3"), timezone="UTC", **kw,
    )


def quick_mail_cfg(tmp_path: Path, server: SmtpServer | None, **kw) -> MailConfig:
    """Retries within a second, for tests that wait on a delivery worker's retry."""
    kw.setdefault("retry_initial_s", 0.5)
    kw.setdefault("retry_max_s", 1)
    return mail_cfg(tmp_path, server, **kw)


def rule(name: str = "belarus", query: str = BELARUS, **kw) -> Rule:
    kw.setdefault("recipients", ["desk@example.org", "editor@example.org"])
    return Rule(name=name, query=query, **kw)


def article(n: int, at: float, title: str | None = None, **kw) -> Article:
    # each n its own story: a text of its own, not the same sentence with another number (a near-duplicate)
    own = " ".join(hashlib.sha1(f"{n}-{i}".encode()).hexdigest()[:7] for i in range(12))
    kw.setdefault("text", f"Alexander Lukashenko met jailed rivals in a KGB prison in Minsk (story {n}). "
                          f"The talks lasted four hours, state media said. Case files {own}.")
    kw.setdefault("source", "dw")
    kw.setdefault("published_at", datetime.fromtimestamp(at - 600 + n, timezone.utc))
    return Article(url=f"https://www.dw.com/en/story-{n}/a-{1000 + n}", title=title or f"Lukashenko story {n}",
                   indexed_at=datetime.fromtimestamp(at, timezone.utc), **kw)


def message_ids(server: SmtpServer) -> list[str]:
    return [m.message_id for m in server.messages]
