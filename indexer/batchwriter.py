"""One batch of articles into the index, else into the durable spool: never dropped.

A batch that fails for a transient reason (connection error, timeout, 429, 5xx, or any other error of the
whole request) is retried a bounded number of times with exponential backoff and then written to the
:class:`~indexer.spool.Spool`; while the spool holds anything, newer batches queue up behind it (order is
kept), and the spool is replayed oldest first whenever a probe finds the backend answering again. Documents
the backend rejects (mapping errors) go to the spool's quarantine with the reason; the rest of the batch
goes in. ``on_indexed`` gets the articles that actually landed (from direct batches and from replays); an
article the backend found already stored with the same title and text is counted ``unchanged`` and
neither written nor passed on.

Every write happens under one lock, in order; :class:`indexer.ingest.Ingestor` decides when, and on
which thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import structlog

from indexer.article import Article
from indexer.backends.base import Backend, BackendError, BackendUnavailable, IndexResult
from indexer.spool import Spool

log = structlog.get_logger("indexer.ingest")


class BatchWriter:
    def __init__(self, backend: Backend, spool: Spool, counters: dict[str, int], *, batch_size: int,
                 on_indexed: Callable[[list[Article]], None] | None, retry_attempts: int, retry_backoff_s: float,
                 probe_interval_s: float, probe_max_s: float, prepare: Callable[[], Any] | None) -> None:
        self.backend = backend
        self.spool = spool
        self.counters = counters  # the Ingestor's, which adds what was submitted
        self.batch_size = batch_size
        self.on_indexed = on_indexed
        self.retry_attempts = retry_attempts
        self.retry_backoff_s = retry_backoff_s
        self.probe_interval_s = probe_interval_s
        self.probe_max_s = probe_max_s
        # Run once before the first write, and again at each probe until it succeeds: a daemon
        # that starts while the index is down or hung spools, and sets the index up (templates,
        # aliases) when it answers, before any document could create an index without them.
        self._prepare = prepare
        self._io = threading.RLock()  # every backend/spool write happens under it: one writer, in order
        # A spool left by the last run is replayed as soon as the worker starts, not only after
        # the next outage: its articles are already marked done in the frontier.
        self.down_until = time.monotonic() if spool.depth() else 0.0  # 0 while the backend answers
        self._probe_delay = probe_interval_s
        self.storage_error = ""  # why the last store failed; cleared by the next store that works

    def prepare(self) -> bool:
        """Set the backend up now if it is not yet (the probe retries when it fails); True when ready."""
        with self._io:
            try:
                self._ready()
            except BackendUnavailable as err:
                self._mark_down(err)
                return False
        return True

    def drain(self) -> int:
        """Replay the spool now (oldest first), whatever the probe timer says; returns articles replayed."""
        with self._io:
            self.down_until = 0.0
            return self._drain_locked()

    def replay_if_due(self) -> None:
        """Replay the spool if the backend was down and its next probe is due."""
        if self.down_until and time.monotonic() >= self.down_until:
            with self._io:
                self._drain_locked()

    def back_off(self) -> None:
        """Something failed that no probe has explained (a spool that cannot be read): wait for the next
        probe, longer each time, rather than spin."""
        self.down_until = time.monotonic() + self._probe_delay
        self._probe_delay = min(self._probe_delay * 2, self.probe_max_s)

    def spool_or_lose(self, batch: list[Article], reason: str) -> bool:
        """Last resort: the spool; False when that failed too and the batch reached neither store."""
        try:
            self._spool(batch, reason)
        except Exception as err:
            self.storage_error = f"{reason[:200]}; spool: {err}"[:500]
            self.counters["unstored"] += len(batch)
            log.error("ingest.articles_unstored", count=len(batch), error=str(err)[:300], reason=reason[:200],
                      urls=[a.url for a in batch[:5]])
            return False
        return True

    def store(self, batch: list[Article]) -> None:
        """Index the batch, else spool it; raises only when the spool fails too."""
        self.counters["batches"] += 1
        with self._io:
            if self.spool.depth():
                # older articles are waiting: queue behind them, then try to replay if a probe is due
                self._spool(batch, "spool not empty")
                if time.monotonic() >= self.down_until:
                    self._drain_locked()
                return
            if self.down_until and time.monotonic() < self.down_until:
                self._spool(batch, "backend down")
                return
            result = self._index_with_retry(batch)
            if result is None:
                self._spool(batch, "backend unavailable")
                return
            self._mark_up()
            self.storage_error = ""
            landed = self._settle(batch, result)
            if result.deferred:
                deferred = set(result.deferred)
                self._spool([a for a in batch if a.id in deferred], "deferred by backend")
                # (a write block, a full queue): replayed on the probe timer, not by the next new article,
                # and the daemon says it is degraded meanwhile
                self._mark_down(BackendUnavailable(f"{len(deferred)} documents deferred by the backend"))
        self._notify(landed)

    def _mark_down(self, err: Exception) -> None:
        self.down_until = time.monotonic() + self._probe_delay
        log.warning("ingest.backend_down", error=str(err), next_probe_s=round(self._probe_delay, 1),
                    spool_depth=self.spool.depth())
        self._probe_delay = min(self._probe_delay * 2, self.probe_max_s)

    def _mark_up(self) -> None:
        if self.down_until:
            log.info("ingest.backend_up")
        self.down_until = 0.0
        self._probe_delay = self.probe_interval_s

    def _spool(self, batch: list[Article], reason: str) -> None:
        self.spool.append(batch)
        self.storage_error = ""
        self.counters["spooled"] += len(batch)
        log.info("ingest.spooled", count=len(batch), reason=reason[:200], spool_depth=self.spool.depth())

    def _index_with_retry(self, batch: list[Article]) -> IndexResult | None:
        delay = self.retry_backoff_s
        for attempt in range(self.retry_attempts + 1):
            try:
                return self._index(batch)
            except BackendUnavailable as err:
                self.counters["failed_attempts"] += 1
                last: Exception = err
            except BackendError as err:  # whole request refused: keep the articles, never drop them
                self.counters["failed_attempts"] += 1
                log.error("ingest.batch_error", error=str(err)[:500])
                last = err
            except Exception as err:  # a bug or an unexpected client error: same
                self.counters["failed_attempts"] += 1
                log.error("ingest.batch_error", error=str(err)[:500], exc_info=True)
                last = err
            if attempt < self.retry_attempts:
                time.sleep(delay)
                delay *= 2
        self._mark_down(last)
        return None

    def _settle(self, batch: list[Article], result: IndexResult) -> list[Article]:
        """Quarantine rejected documents; return the articles that landed."""
        by_id = {a.id: a for a in batch}
        for doc_id, reason in result.failed:
            self.spool.quarantine(by_id.get(doc_id), reason, id=doc_id)
            self.counters["quarantined"] += 1
            log.warning("ingest.quarantined", id=doc_id, url=getattr(by_id.get(doc_id), "url", None),
                        reason=reason[:300])
        self.counters["unchanged"] += len(result.unchanged)
        ok = set(result.indexed)
        landed = [a for a in batch if a.id in ok]
        # a batch may hold the same id twice: report it once
        seen: set[str] = set()
        landed = [a for a in landed if not (a.id in seen or seen.add(a.id))]
        self.counters["indexed"] += len(landed)
        return landed

    def _drain_locked(self) -> int:
        """Replay the spool oldest first until empty or the backend fails again (caller holds _io)."""
        total = 0
        try:
            self._ready()
        except BackendUnavailable as err:
            self._mark_down(err)
            return total
        while True:
            entries = self.spool.peek(self.batch_size)
            if not entries:
                if total:
                    log.info("ingest.replayed", count=total)
                self._mark_up()
                return total
            batch = [e.article for e in entries]
            try:
                result = self._index(batch)
            except BackendUnavailable as err:
                self._mark_down(err)
                return total
            except Exception as err:  # whole-request refusal: find the poison article(s) one by one
                log.error("ingest.replay_error", error=str(err)[:500])
                result = self._index_one_by_one(batch)
                if result is None:
                    self._mark_down(err)
                    return total
            landed = self._settle(batch, result)
            if result.deferred:
                deferred = set(result.deferred)
                cut = next(i for i, e in enumerate(entries) if e.article.id in deferred)
                self.spool.ack(e.seq for e in entries[:cut])
                total += cut
                self.counters["replayed"] += cut
                self._notify(landed)
                self._mark_down(BackendUnavailable(f"{len(deferred)} documents deferred by the backend"))
                return total
            self.spool.ack(e.seq for e in entries)
            total += len(entries)
            self.counters["replayed"] += len(entries)
            self._notify(landed)

    def _ready(self) -> None:
        if self._prepare is None:
            return
        try:
            self._prepare()
        except BackendUnavailable:
            raise
        except Exception as err:  # not ready is not ready, whatever the cause: spool and probe
            raise BackendUnavailable(f"index not ready: {err}") from err
        self._prepare = None
        log.info("ingest.backend_prepared")

    def _index(self, batch: list[Article]) -> IndexResult:
        self._ready()
        return self.backend.index(batch)

    def _index_one_by_one(self, batch: list[Article]) -> IndexResult | None:
        out = IndexResult()
        for a in batch:
            try:
                r = self._index([a])
            except BackendUnavailable:
                return None
            except Exception as err:
                r = IndexResult(failed=[(a.id, f"refused: {err}")])
            out.indexed += r.indexed
            out.failed += r.failed
            out.deferred += r.deferred
            out.unchanged += r.unchanged
        if not out.indexed and not out.deferred and not out.unchanged:
            # nothing went through: the store refuses everything (auth, blocks), not one poison document
            return None
        return out

    def _notify(self, landed: list[Article]) -> None:
        if not landed or self.on_indexed is None:
            return
        try:
            self.on_indexed(landed)
        except Exception as err:  # alerting trouble must not stop indexing
            log.error("ingest.on_indexed_failed", error=str(err), exc_info=True)
