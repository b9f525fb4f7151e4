"""What one pass of matching or delivering did: counts and errors, summed over passes and lanes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    matched: int = 0
    enqueued: int = 0
    sent: int = 0
    failed: int = 0
    digests_sent: int = 0
    mails: int = 0  # messages accepted (an instant alert is one mail, a digest is one mail)
    messages: int = 0  # channel (notify) messages accepted
    digest_messages_opened: int = 0  # channel messages of digests opened now: their lanes have work
    errors: list[str] = field(default_factory=list)

    def add(self, other: "Report") -> None:
        for name in ("matched", "enqueued", "sent", "failed", "digests_sent", "mails", "messages",
                     "digest_messages_opened"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors
