"""The alerting facade the daemon and the CLI use.

    engine = AlertEngine.from_config(cfg.mail, cfg.rules, backend, rules_dir=cfg.rules_dir)
    ingestor = Ingestor(..., on_indexed=engine.on_indexed)   # match + record + send instant mails
    scheduler.add_job(engine.send_due, "interval", seconds=30)  # retries and digests -> int mails sent
    engine.update_rules(cfg.rules)                            # config reload (rules_dir is re-read by mtime)
    engine.send_test(rule)                                    # a test mail to the rule's recipients -> where
    engine.send_tests(rule)                                   # `mediawatch alerts send-test RULE`: mail + channels
    engine.close()

Rules, matching, the ledger and the mailer are separate modules; this class only wires them. What a
rule matches in the index now (``mediawatch alerts test``) needs no engine: :mod:`rule_hits`. All state
lives in the ledger, so a new ``AlertEngine`` on the same ``ledger_path`` carries on exactly where the
last one stopped (pending alerts are retried, sent ones never repeated).

Deliveries go by channel: mail (instant mails and digests) is one, each ``notify`` URL another (a story
of an instant rule, or a digest rule's period, as one message). Called
directly, ``on_indexed`` sends what it recorded before returning (one-shot commands, tests). With a
:class:`~indexer.alerts.worker.DeliveryWorker` attached (the daemon), ``on_indexed`` only records and
wakes it, and each channel is delivered on its own thread by :meth:`deliver_mail` /
:meth:`deliver_channel`: indexing never waits for a mail server or a webhook, and a channel that is
down never delays another. One lock per channel keeps two threads from sending the same row.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

import structlog
from indexer.article import Article
from indexer.config import MailConfig
from indexer.alerts import schedule as sched
from indexer.alerts.channels import channel_id
from indexer.alerts.copies import Copies, gather as gather_copies
from indexer.alerts.deliveries import ChannelDeliveries, TestOutcome
from indexer.backends.base import BackendUnavailable
from indexer.alerts.ledger import Ledger
from indexer.alerts.ledger_rows import AlertRow, NewAlert
from indexer.alerts.mail_deliveries import MAIL, MailDeliveries
from indexer.alerts.mailer import Mailer, SendError
from indexer.alerts.matching import ActiveRule, Match, build_matcher, search_rule
from indexer.alerts.render import Envelope, notice_message, test_message
from indexer.alerts.report import Report
from indexer.alerts.rule_hits import rule_terms
from indexer.alerts.rules import Rule, RuleSet

log = structlog.get_logger(__name__)


class AlertEngine:
    def __init__(
        self,
        mail: MailConfig,
        rules: RuleSet | Iterable[Rule | dict] | None = None,
        *,
        backend: Any = None,
        rules_dir: str | None = None,
        ledger: Ledger | None = None,
        backfill: bool = False,
        use_percolator: bool | None = None,
        clock: Callable[[], float] = time.time,
        on_pending: Callable[[], None] | None = None,
    ) -> None:
        """``backend``: an ``indexer.backends`` Backend; on Elasticsearch with the percolator module the
        rules are percolated there, otherwise (SQLite, or a cluster without the module) matched
        in-process with identical semantics. ``backfill``: new rule versions also alert on articles
        indexed before them (``--backfill``). ``use_percolator`` forces (True) or forbids (False) it.
        ``on_pending``: called instead of delivering once ``on_indexed`` recorded new alerts (the
        delivery worker's wake-up)."""
        self.mail = mail
        self.rules = rules if isinstance(rules, RuleSet) else RuleSet(rules_dir, rules or ())
        self.backend = backend
        self.envelope = Envelope(mail.from_addr, mail.from_name)
        self.ledger = ledger or Ledger(mail.ledger_path, domain=self.envelope.domain)
        self._own_ledger = ledger is None
        self.mailer = Mailer(mail)
        self.backfill_new_rules = backfill
        self.use_percolator = use_percolator
        self.clock = clock
        self.on_pending = on_pending
        self.default_tz = mail.timezone or sched.local_zone_name()
        self._lock = threading.RLock()
        self._lanes: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self.channels = ChannelDeliveries(self.ledger, self.rules, mail, clock=lambda: self.clock(),
                                          tz=self._tz, terms=rule_terms, copies=self._copies)
        self.mails = MailDeliveries(self.ledger, self.rules, mail, self.mailer, self.envelope,
                                    clock=lambda: self.clock(), tz=self._tz, terms=rule_terms, copies=self._copies)
        self._rules_version = -1
        self.last_report = Report()
        self._active: list[ActiveRule] = []
        self.matcher: Any = None
        try:
            self._sync_rules()
        except BackendUnavailable as err:
            # The daemon starts while the index is down; the first batch that lands (so with the
            # index up) builds the matcher before matching it.
            log.warning("alerts.matcher_deferred", error=str(err)[:300])

    @classmethod
    def from_config(
        cls, mail: MailConfig, rules: Iterable[Rule | dict] = (), backend: Any = None, *,
        rules_dir: str | None = None, backfill: bool = False, **kwargs: Any,
    ) -> "AlertEngine":
        """The daemon's constructor: rules from the config plus the YAML files of ``rules_dir``."""
        return cls(mail, RuleSet(rules_dir, rules), backend=backend, backfill=backfill, **kwargs)

    def update_rules(self, rules: Iterable[Rule | dict]) -> None:
        """Replace the config-declared rules (config reload); the rules folder is kept and re-read."""
        with self._lock:
            self.rules.set_config_rules(rules)
            self._sync_rules()

    # -- rules ----------------------------------------------------------------------------------
    def _sync_rules(self) -> None:
        self.rules.refresh()
        if self.rules.version == self._rules_version and self.matcher is not None:
            return
        now = self.clock()
        enabled = self.rules.enabled()
        known = self.ledger.rule_since_many(
            [(r.name, r.fingerprint, r.backfill or self.backfill_new_rules) for r in enabled], now)
        active = []
        for rule in enabled:
            if rule.created_at is not None and not (rule.backfill or self.backfill_new_rules):
                since = rule.created_at.timestamp()
            else:
                since = known[(rule.name, rule.fingerprint)]
            active.append(ActiveRule(rule, since))
        if self.matcher is not None and hasattr(self.matcher, "update"):
            self.matcher.update(active)
        else:
            self.matcher = build_matcher(active, backend=self.backend, use_percolator=self.use_percolator)
        self._active = active
        self._rules_version = self.rules.version
        log.info("alerts.rules_loaded", enabled=len(active), matcher=type(self.matcher).__name__)

    def _tz(self, rule: Rule | None) -> ZoneInfo | timezone:
        name = (rule.timezone if rule else None) or self.default_tz
        try:
            return ZoneInfo(name)
        except Exception:
            return timezone.utc

    def _schedule(self, rule: Rule) -> str:
        return sched.schedule_for(rule.mode, rule.daily_at, rule.timezone or self.default_tz)

    # -- the daemon's entry points --------------------------------------------------------------
    def on_indexed(self, batch: Sequence[Article]) -> Report:
        """Match a freshly indexed batch, record the matches as pending, send the instant ones."""
        report = Report()
        if not batch:
            return report
        wake = self.on_pending
        with self._lock:
            self._sync_rules()
            now = self.clock()
            matches: list[Match] = self.matcher.match(list(batch), now=now)
            newest = max((a.indexed_at.timestamp() for a in batch if a.indexed_at is not None), default=None)
            self._record(matches, now, report, fresh=batch, deliver=wake is None)
            if newest is not None:  # after the matches are durable: a crash before this re-matches, harmlessly
                self.ledger.advance_watermark(newest)
        if wake is not None and report.enqueued:
            wake()
        return report

    def _record(self, matches: list[Match], now: float, report: Report, fresh: Sequence[Article] = (),
                deliver: bool = True) -> None:
        """Matches → pending ledger rows (one per rule and story, new ones only, with one delivery per
        notify channel) → with ``deliver``, instant mails and channel messages sent now."""
        report.matched += len(matches)
        items = [
            NewAlert(rule=m.rule.name, article=m.article, mode=m.rule.mode, schedule=self._schedule(m.rule),
                     query=m.rule.query, recipients=list(m.rule.recipients),
                     # a digest rule's channels get one message per period, when its digest is opened
                     channels=[channel_id(url) for url in m.rule.notify] if m.rule.mode == "instant" else [])
            for m in matches
            if m.rule.recipients or m.rule.notify
        ]
        if not items:
            return
        new_keys = self.ledger.enqueue(items, now)
        report.enqueued += len(new_keys)
        if not deliver or not new_keys:
            return
        instant = [k for k in new_keys if (r := self.rules.get(k[0])) is not None and r.mode == "instant"]
        if instant:
            with self._lanes[MAIL]:
                self.mails.deliver(self.ledger.due_instant(now, keys=instant), report, fresh)
        for channel in self.ledger.pending_channels():
            report.add(self.deliver_channel(channel, fresh))

    def backfill(self, rules: Iterable[Rule | str] | None = None, backend: Any = None, limit: int = 1000) -> Report:
        """``--backfill``: alert now on what the rules already match in the index (up to ``limit`` newest
        articles per rule); pairs already in the ledger are skipped, so running it twice sends nothing."""
        backend = backend if backend is not None else self.backend
        if backend is None:
            raise ValueError("backfill needs a backend")
        report = Report()
        with self._lock:
            self._sync_rules()
            # a paused rule sends nothing, asked for by name or not
            chosen = [r for r in map(self._resolve, rules) if r.enabled] if rules is not None else self.rules.enabled()
            now = self.clock()
            for done, rule in enumerate(chosen, 1):
                found = search_rule(backend, rule, limit=limit)
                self._record([Match(rule, article) for article, _score in found], now, report)
                # its mails went out before the next rule is searched: over SMTP a backfill can take minutes
                log.info("alerts.backfill_progress", rule=rule.name, rules_done=done, rules=len(chosen),
                         matched=report.matched, new=report.enqueued, mails=report.mails)
        return report

    def send_due(self) -> int:
        """Every channel in turn, in the caller's thread: retry pending mails and channel messages
        whose backoff expired, build and send digests that are due. Returns the number of mails
        accepted (details, channel messages included, in ``self.last_report``)."""
        report = self.deliver_mail()
        for channel in self.ledger.pending_channels():
            report.add(self.deliver_channel(channel))
        self.last_report = report
        return report.mails

    def deliver_mail(self) -> Report:
        """The mail lane: due instant mails (retries too), then digests whose period ended."""
        report = Report()
        with self._lock:
            # the rules as they are now, not the matcher: what waits in the ledger goes out while the
            # index (which building a matcher may ask) is down
            self.rules.refresh()
            now = self.clock()
            now_dt = datetime.fromtimestamp(now, timezone.utc)
            for rule_name, schedule, oldest in self.ledger.unassigned_digest_rules():
                boundary = sched.last_boundary(schedule, now_dt)
                if boundary is None or oldest >= boundary.timestamp():
                    continue
                rule = self.rules.get(rule_name)
                recipients = list(rule.recipients) if rule is not None and rule.recipients else []
                channels = [channel_id(url) for url in rule.notify] if rule is not None else []
                opened = self.ledger.open_digest(rule_name, sched.digest_key(boundary), boundary.timestamp(),
                                                 recipients, now, channels)
                if opened and channels:
                    report.digest_messages_opened += len(channels)
        # sending happens outside the engine's lock: matching a new batch never waits for a mail server
        with self._lanes[MAIL]:
            self.mails.deliver(self.ledger.due_instant(now, limit=self.mail.max_per_cycle), report)
            digests = self.ledger.due_digests(now)
            if digests:
                self.mails.deliver_digests(digests, report)
        return report

    def next_due(self, lane: str) -> float | None:
        """When the lane has something to retry next (None: nothing pending)."""
        if lane == MAIL:
            return self.ledger.next_mail_due()
        return self.ledger.pending_channels().get(lane)

    def deliver_channel(self, channel: str, fresh: Sequence[Article] = ()) -> Report:
        """One channel's lane: its due messages, oldest first, with the mail's retries and backoff;
        ``fresh``, the batch just indexed, for the outlet lists (see ``_copies``)."""
        report = Report()
        with self._lanes[channel]:
            self.rules.refresh()
            self.channels.deliver(channel, report, fresh)
            self.channels.deliver_digests(channel, report)
        return report

    # -- delivery ---------------------------------------------------------------------------------
    def _copies(self, rows: Sequence[AlertRow], fresh: Sequence[Article] = ()) -> Copies:
        return gather_copies(self.backend, rows, fresh)

    def catch_up(self, backend: Any = None, limit: int = 10_000, chunk: int = 500, since: float | None = None) -> Report:
        """Re-match what was indexed since the last batch the engine saw (call at daemon start): articles
        that landed while the process died between indexing and matching still alert; ones already
        matched are ignored by the ledger, so this never duplicates. ``since``: from there instead (a
        dead daemon's watermark, in a cluster). Returns the combined report."""
        backend = backend if backend is not None else self.backend
        total = Report()
        if backend is None:
            return total
        since = self.ledger.watermark() if since is None else since
        if since is None:
            # Nothing matched yet, so no watermark: a crash between the first batch's index commit
            # and its matching would otherwise lose that batch's alerts. Start where the rules did.
            with self._lock:
                self._sync_rules()
                starts = [active.since for active in self._active]
            if not starts:
                return total
            since = min(starts)
        ids = backend.ids_indexed_since(datetime.fromtimestamp(since, timezone.utc), limit=limit)
        for i in range(0, len(ids), chunk):
            articles = [a for a in (backend.get(x) for x in ids[i:i + chunk]) if a is not None]
            total.add(self.on_indexed(articles))
        if ids:
            log.info("alerts.catch_up", rematched=len(ids), new_alerts=total.enqueued)
        return total

    # -- CLI helpers ------------------------------------------------------------------------------
    def _resolve(self, rule_or_query: Rule | str) -> Rule:
        if isinstance(rule_or_query, Rule):
            return rule_or_query
        self.rules.refresh()
        named = self.rules.get(rule_or_query)
        return named if named is not None else Rule(name="adhoc", query=rule_or_query)

    def send_test(self, rule: Rule | str) -> str:
        """Send a test mail to the rule's recipients now (not recorded in the ledger); return where it
        went ("smtp HOST:PORT, Message-ID <…>" or the .eml path). Raises ``SendError`` if the server did
        not accept it, ``ValueError`` if the rule has no recipients."""
        rule = self._resolve(rule)
        if not rule.recipients:
            raise ValueError(f"rule {rule.name!r} has no recipients")
        message_id = f"<mw-test.{uuid.uuid4().hex}@{self.envelope.domain}>"
        msg = test_message(self.envelope, rule.name, rule.query, rule.recipients, message_id)
        self.mailer.send(msg)
        return self.mailer.where(message_id)

    def send_tests(self, rule: Rule | str) -> list[TestOutcome]:
        """``mediawatch alerts send-test``: a test mail to the recipients and a test message to every
        ``notify`` channel of the rule, each tried whatever the others did (nothing is recorded in the
        ledger). Raises ``ValueError`` if the rule has neither recipients nor channels."""
        rule = self._resolve(rule)
        if not rule.recipients and not rule.notify:
            raise ValueError(f"rule {rule.name!r} has no recipients and no notify channels")
        out: list[TestOutcome] = []
        if rule.recipients:
            try:
                out.append(TestOutcome(MAIL, True, self.send_test(rule)))
            except SendError as err:
                out.append(TestOutcome(MAIL, False, str(err)))
        return out + self.channels.send_tests(rule)

    def send_notice(self, subject: str, text: str) -> str | None:
        """Mail the operators (``mail.operators``) now; None when none are configured. Raises SendError."""
        if not self.mail.operators:
            return None
        message_id = f"<mw-notice.{uuid.uuid4().hex}@{self.envelope.domain}>"
        self.mailer.send(notice_message(self.envelope, self.mail.operators, subject, text, message_id))
        return self.mailer.where(message_id)

    def status(self) -> dict[str, Any]:
        return {
            "rules": len(self._active),
            "rule_errors": [str(e) for e in self.rules.errors.values()],
            "matcher": type(self.matcher).__name__,
            "mail": self.mailer.mode,
            "channels": len({channel_id(url) for rule in self.rules.enabled() for url in rule.notify}),
            **self.ledger.counts(),
        }

    def close(self) -> None:
        with self._lock:
            if self.matcher is not None and hasattr(self.matcher, "close"):
                self.matcher.close()
            if self._own_ledger:
                self.ledger.close()
