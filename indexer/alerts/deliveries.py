"""Delivering the ledger's channel rows: one channel's due messages (a story's, a digest's), and the
channels' test messages.

The engine calls :meth:`ChannelDeliveries.deliver` for one channel at a time (holding that channel's
lock); the rows come from ``ledger_channels``, the URLs from the rules as they are now (the ledger keeps
only a hash of each URL), the sending from ``channels``. The retry policy is the mail's: a failure backs
off from ``mail.retry_initial_s`` to ``mail.retry_max_s``, forever, and after two failures in a row the
channel's other due rows are deferred instead of tried against a service that is down.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any, Callable, Sequence

import structlog

from indexer.alerts import schedule as sched
from indexer.alerts.copies import Copies
from indexer.alerts.channels import (
    ChannelMessage, ChannelSender, DigestStory, channel_id, delivery_id, digest_message, story_message,
)
from indexer.alerts.ledger import Ledger
from indexer.alerts.ledger_channels import DeliveryRow, DigestDeliveryRow
from indexer.alerts.ledger_rows import backoff
from indexer.alerts.mailer import SendError
from indexer.alerts.rules import Rule, RuleSet
from indexer.article import Article
from indexer.config import MailConfig
from indexer.query import Terms

log = structlog.get_logger(__name__)


@dataclass
class TestOutcome:
    """One channel's answer to ``send-test``."""

    __test__ = False  # not a pytest class

    channel: str  # "mail" or the masked channel URL
    ok: bool
    detail: str  # where it went, or why it failed


class _Lane:
    """One pass over a channel's due messages: after two failures in a row the service is taken for
    unreachable, and the rest are deferred (failed with their backoff) rather than tried against it."""

    def __init__(self, report: Any) -> None:
        self.report, self.failures = report, 0

    def send(self, sender: ChannelSender, message: Callable[[], ChannelMessage], key: str,
             failed: Callable[[str], None]) -> bool:
        if self.failures >= 2:
            failed(f"deferred: {self.report.errors[-1]}")
            return False
        try:
            sender.send(message(), key)
        except SendError as err:
            self.failures += 1
            failed(str(err))
            return False
        self.failures = 0
        self.report.messages += 1
        return True


class ChannelDeliveries:
    def __init__(self, ledger: Ledger, rules: RuleSet, mail: MailConfig, *, clock: Callable[[], float],
                 tz: Callable[[Rule | None], tzinfo], terms: Callable[[str], Terms],
                 copies: Callable[[Sequence[DeliveryRow], Sequence[Article]], Copies]) -> None:
        """``copies``: per story of the rows, the other outlets' copies known now (the engine's)."""
        self.ledger, self.rules, self.mail = ledger, rules, mail
        self.clock, self.tz, self.terms, self.copies = clock, tz, terms, copies
        self._senders: dict[str, ChannelSender] = {}

    def _urls(self) -> dict[tuple[str, str], str]:
        """(rule, channel id) → URL, from the rules as they are now."""
        return {(rule.name, channel_id(url)): url for rule in self.rules.rules() for url in rule.notify}

    def _sender(self, url: str) -> ChannelSender:
        key = channel_id(url)
        sender = self._senders.get(key)
        if sender is None:
            sender = self._senders[key] = ChannelSender(url)
        return sender

    def deliver(self, channel: str, report: Any, fresh: Sequence[Article] = ()) -> None:
        """Send the channel's due rows, oldest first; counts go to ``report`` (an engine Report)."""
        urls, lane = self._urls(), _Lane(report)
        rows = self.ledger.due_deliveries(self.clock(), channel=channel, limit=self.mail.max_per_cycle)
        copies = self.copies(rows, fresh)
        for row in rows:
            url = urls.get((row.rule, row.channel))
            if url is None:
                self.ledger.mark_delivered(row, self.clock(), state="dropped", note="channel no longer in the rule")
                log.warning("alerts.delivery_dropped", rule=row.rule, story_id=row.story_id, channel=channel,
                            reason="channel no longer in the rule")
                continue
            sender = self._sender(url)

            def message(row: DeliveryRow = row) -> ChannelMessage:
                outlets = [row.article.source, *(a.source for a in copies.others(row))]
                return story_message(row.rule, row.article, self.terms(row.query),
                                     tz=self.tz(self.rules.get(row.rule)), outlets=outlets)

            def failed(error: str, row: DeliveryRow = row, sender: ChannelSender = sender) -> None:
                self._failed(row, sender, error, report, self.ledger.mark_delivery_failed, story_id=row.story_id)

            if lane.send(sender, message, delivery_id(row.rule, row.story_id, row.channel), failed):
                self.ledger.mark_delivered(row, self.clock())
                log.info("alerts.delivered", rule=row.rule, story_id=row.story_id, channel=sender.name)

    def deliver_digests(self, channel: str, report: Any) -> None:
        """Send the channel's due digest messages, oldest period first: one per (rule, period), with the
        stories of the mail digest of that period, in its order."""
        urls, lane = self._urls(), _Lane(report)
        for row in self.ledger.due_digest_deliveries(self.clock(), channel):
            url = urls.get((row.rule, row.channel))
            items = self.ledger.digest_items(row.digest_id)
            if url is None or not items:
                why = "channel no longer in the rule" if url is None else "no story left in the digest"
                self.ledger.mark_digest_delivered(row, self.clock(), state="dropped", note=why)
                log.warning("alerts.delivery_dropped", rule=row.rule, digest=row.digest_id, channel=channel, reason=why)
                continue
            sender = self._sender(url)

            def message(row: DigestDeliveryRow = row, items: list = items) -> ChannelMessage:
                copies = self.copies(items, ())
                stories = [DigestStory(i.article, self.terms(i.query), [a.source for a in copies.others(i)])
                           for i in items]
                return digest_message(row.rule, stories, sched.digest_kind(items[0].schedule),
                                      datetime.fromtimestamp(row.period_end, timezone.utc),
                                      tz=self.tz(self.rules.get(row.rule)))

            def failed(error: str, row: DigestDeliveryRow = row, sender: ChannelSender = sender) -> None:
                self._failed(row, sender, error, report, self.ledger.mark_digest_delivery_failed,
                             digest=row.digest_id)

            if lane.send(sender, message, delivery_id(row.rule, row.digest_id, row.channel), failed):
                self.ledger.mark_digest_delivered(row, self.clock())
                log.info("alerts.digest_delivered", rule=row.rule, digest=row.digest_id, stories=len(items),
                         channel=sender.name)

    def _next_at(self, attempts: int) -> float:
        return self.clock() + backoff(attempts + 1, self.mail.retry_initial_s, self.mail.retry_max_s)

    def _failed(self, row: DeliveryRow | DigestDeliveryRow, sender: ChannelSender, error: str, report: Any,
                mark: Callable[[Any, str, float], None], **what: str) -> None:
        next_at = self._next_at(row.attempts)
        mark(row, error, next_at)
        report.failed += 1
        report.errors.append(error)
        log.warning("alerts.channel_failed", rule=row.rule, **what, channel=sender.name, attempt=row.attempts + 1,
                    retry_at=datetime.fromtimestamp(next_at, timezone.utc).isoformat(), error=error)

    def send_tests(self, rule: Rule) -> list[TestOutcome]:
        """A made-up story to every channel of the rule, each tried whatever the others answered."""
        sample = Article(
            url="https://example.org/mediawatch-test", title=f"Test alert for rule {rule.name}",
            text=f"This is a test message for the mediawatch rule {rule.name}, whose query is: {rule.query}. "
            "If you can read it, alerts for this rule reach this channel.",
            source="mediawatch", published_at=datetime.now(timezone.utc))
        message = story_message(rule.name, sample, self.terms(rule.name), tz=self.tz(rule))
        out = []
        for url in rule.notify:
            sender = ChannelSender(url)
            try:
                sender.send(message, f"mw-test.{uuid.uuid4().hex}")
            except SendError as err:
                out.append(TestOutcome(sender.name, False, str(err)))
            else:
                out.append(TestOutcome(sender.name, True, "accepted"))
        return out
