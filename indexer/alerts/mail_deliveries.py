"""Delivering the ledger's mail rows: due instant mails (retries too) and due digests, on the mail lane.

The engine calls :meth:`MailDeliveries.deliver` and :meth:`MailDeliveries.deliver_digests` holding the
mail lane's lock; the rows come from ``ledger``, the messages from ``render``, the sending from
``mailer``. Sent means committed: a row is marked sent only once the sender made its batch durable
(the SMTP server accepted it, or the outbox files are synced into place). After two failures in a row
the server is taken for unreachable and the rest of the pass is deferred with its backoff.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Callable, Sequence

import structlog

from indexer.alerts import schedule as sched
from indexer.alerts.copies import Copies
from indexer.alerts.ledger import Ledger
from indexer.alerts.ledger_rows import AlertRow, DigestRow
from indexer.alerts.mailer import Mailer, Sender, SendError
from indexer.alerts.render import DigestEntry, Envelope, Terms, digest_message, instant_message
from indexer.alerts.report import Report
from indexer.alerts.rules import Rule, RuleSet
from indexer.article import Article
from indexer.config import MailConfig

log = structlog.get_logger(__name__)

MAIL = "mail"  # the lane of instant mails and digests; the other lanes are channel ids


class MailDeliveries:
    def __init__(self, ledger: Ledger, rules: RuleSet, mail: MailConfig, mailer: Mailer, envelope: Envelope, *,
                 clock: Callable[[], float], tz: Callable[[Rule | None], tzinfo], terms: Callable[[str], Terms],
                 copies: Callable[[Sequence[AlertRow], Sequence[Article]], Copies]) -> None:
        """``copies``: per story of the rows, the other outlets' copies known now (the engine's)."""
        self.ledger, self.rules, self.mail, self.mailer, self.envelope = ledger, rules, mail, mailer, envelope
        self.clock, self.tz, self.terms, self.copies = clock, tz, terms, copies

    def deliver(self, rows: list[AlertRow], report: Report, fresh: Sequence[Article] = ()) -> None:
        """Send due instant mails; ``fresh``, the batch just indexed, for the outlet lists."""
        if not rows:
            return
        copies = self.copies(rows, fresh)
        consecutive = 0
        done: list[tuple[AlertRow, str | None]] = []
        with self.mailer.session() as sender:
            for row in rows:
                now = self.clock()
                if consecutive >= 2:  # the server is unreachable: don't hammer it, defer the rest
                    self.ledger.mark_failed(row.rule, row.story_id, f"deferred: {report.errors[-1]}", now,
                                            self.mail.retry_initial_s, self.mail.retry_max_s)
                    report.failed += 1
                    continue
                rule = self.rules.get(row.rule)
                msg = instant_message(
                    self.envelope, row.rule, row.query, row.recipients, row.article, self.terms(row.query),
                    row.message_id or "", tz=self.tz(rule), others=copies.others(row),
                    description=rule.description if rule is not None else "",
                )
                try:
                    note = sender.send(msg, to=row.undelivered)
                except SendError as err:
                    consecutive += 1
                    self._failed(row, err, report)
                    continue
                consecutive = 0
                done.append((row, note))
                if len(done) >= sender.group:
                    self._commit(sender, done, report)
            self._commit(sender, done, report)

    def _commit(self, sender: Sender, done: list[tuple[AlertRow, str | None]], report: Report) -> None:
        """Sent means committed: the ledger marks a mail sent only once the sender made it durable."""
        if not done:
            return
        try:
            sender.commit()
        except SendError as err:
            for row, _note in done:
                self._failed(row, err, report)
        else:
            self.ledger.mark_sent([(row.rule, row.story_id, note) for row, note in done], self.clock())
            report.sent += len(done)
            report.mails += len(done)
            # one line per batch: after an outage, the log says when the waiting mails went out
            log.info("alerts.mails_sent", mails=len(done), retried=sum(row.attempts > 0 for row, _ in done),
                     rules=sorted({row.rule for row, _ in done}))
        done.clear()

    def _failed(self, row: AlertRow, err: SendError, report: Report) -> None:
        next_at = self.ledger.mark_failed(row.rule, row.story_id, str(err), self.clock(),
                                          self.mail.retry_initial_s, self.mail.retry_max_s, err.remaining)
        report.failed += 1
        report.errors.append(str(err))
        log.warning("alerts.send_failed", rule=row.rule, story_id=row.story_id, article_id=row.article_id, attempt=row.attempts + 1,
                    retry_at=datetime.fromtimestamp(next_at, timezone.utc).isoformat(), error=str(err))

    def deliver_digests(self, digests: list[DigestRow], report: Report) -> None:
        """Build and send each due digest: one mail listing its period's stories, newest first."""
        with self.mailer.session() as sender:
            for digest in digests:
                items = self.ledger.digest_items(digest.digest_id)
                if not items:
                    self.ledger.mark_digest_sent(digest.digest_id, self.clock(), "empty")
                    continue
                rule = self.rules.get(digest.rule)
                query = rule.query if rule is not None else items[0].query
                shown = items[:self.mail.digest_max_stories]  # the newest: digest_items orders them so
                copies = self.copies(shown, ())
                entries = [DigestEntry(row.article, self.terms(row.query), copies.others(row))
                           for row in shown]
                period_end = datetime.fromtimestamp(digest.period_end, timezone.utc)
                msg = digest_message(
                    self.envelope, digest.rule, query, digest.recipients, entries, digest.message_id,
                    sched.digest_kind(items[0].schedule), period_end, tz=self.tz(rule),
                    description=rule.description if rule is not None else "", more=len(items) - len(shown),
                )
                try:
                    note = sender.send(msg, to=digest.undelivered)
                    sender.commit()
                except SendError as err:
                    self.ledger.mark_digest_failed(digest.digest_id, str(err), self.clock(),
                                                   self.mail.retry_initial_s, self.mail.retry_max_s, err.remaining)
                    report.failed += 1
                    report.errors.append(str(err))
                    log.warning("alerts.digest_failed", digest=digest.digest_id, error=str(err))
                    continue
                self.ledger.mark_digest_sent(digest.digest_id, self.clock(), note)
                report.digests_sent += 1
                report.mails += 1
                report.sent += len(items)
