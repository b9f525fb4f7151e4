"""From extracted articles to the index, without losing one.

:class:`Ingestor` buffers submitted articles and sends them to the backend in batches (by size and by age).
A batch that fails for a transient reason (connection error, timeout, 429, 5xx, or any other error of the
whole request) is retried a bounded number of times with exponential backoff and then written to the durable
:class:`~indexer.spool.Spool`; while the spool holds anything, newer batches queue up behind it (order is
kept), and the spool is replayed oldest first whenever a probe finds the backend answering again. Documents
the backend rejects (mapping errors) go to the spool's quarantine with the reason; the rest of the batch
goes in. ``on_indexed`` gets the articles that actually landed (from direct batches and from replays); an
article the backend found already stored with the same title and text is counted ``unchanged`` and
neither written nor passed on.

Threading: by default a worker thread does all the I/O, so :meth:`submit` only appends to a list and never
blocks on, or raises for, a backend outage. :meth:`flush` hands the buffer over and waits until the worker
has indexed or spooled everything (bounded by the retry budget), and says whether it all got there: a batch that
neither the backend nor the spool would take (a full disk under both) is logged as ``ingest.articles_unstored``
and makes the flush answer False, so the caller leaves those URLs to be fetched again. ``background=False`` runs the same steps
in the caller's thread (deterministic tests, one-shot commands). ``on_indexed`` runs on the worker thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

import structlog

from indexer.article import Article
from indexer.backends.base import Backend, BackendError, BackendUnavailable, IndexResult
from indexer.spool import Spool

log = structlog.get_logger(__name__)


class Ingestor:
    def __init__(
        self,
        backend: Backend,
        spool: Spool,
        *,
        batch_size: int = 500,
        batch_interval_s: float = 2.0,
        on_indexed: Callable[[list[Article]], None] | None = None,
        retry_attempts: int = 3,
        retry_backoff_s: float = 0.5,
        probe_interval_s: float = 5.0,
        probe_max_s: float = 60.0,
        background: bool = True,
        prepare: Callable[[], Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.backend = backend
        self.spool = spool
        self.batch_size = batch_size
        self.batch_interval_s = batch_interval_s
        self.on_indexed = on_indexed
        self.retry_attempts = retry_attempts
        self.retry_backoff_s = retry_backoff_s
        self.probe_interval_s = probe_interval_s
        self.probe_max_s = probe_max_s
        self.background = background
        # Run once before the first write, and again at each probe until it succeeds: a daemon
        # that starts while the index is down or hung spools, and sets the index up (templates,
        # aliases) when it answers, before any document could create an index without them.
        self._prepare = prepare

        self._cond = threading.Condition()
        self._io = threading.RLock()  # every backend/spool write happens under it: one writer, in order
        self._buf: list[Article] = []
        self._buf_since = 0.0
        self._queue: deque[list[Article]] = deque()
        self._busy = False
        self._closed = False
        self._worker: threading.Thread | None = None
        # A spool left by the last run is replayed as soon as the worker starts, not only after
        # the next outage: its articles are already marked done in the frontier.
        self._down_until = time.monotonic() if spool.depth() else 0.0
        self._probe_delay = probe_interval_s
        self.counters = {"submitted": 0, "indexed": 0, "spooled": 0, "replayed": 0, "quarantined": 0,
                         "batches": 0, "failed_attempts": 0, "unstored": 0, "unchanged": 0}
        # The submit count when a batch was last lost: a flush answers for the articles submitted
        # after its caller's mark, and any of them may have been in that batch.
        self._lost_at = 0
        self._storage_error = ""  # why the last store failed; cleared by the next store that works

    @classmethod
    def from_config(cls, backend: Backend, spool: Spool, cfg: Any, **kwargs: Any) -> "Ingestor":
        """Build from an :class:`indexer.config.IndexConfig`."""
        return cls(backend, spool, batch_size=cfg.bulk_size, batch_interval_s=cfg.bulk_interval_s,
                   retry_attempts=cfg.retry_attempts, retry_backoff_s=cfg.retry_backoff_s,
                   probe_interval_s=cfg.probe_interval_s, probe_max_s=cfg.probe_max_s, **kwargs)

    # ------------------------------------------------------------------ public API
    def submit(self, article: Article) -> None:
        """Buffer one article. Returns at once; never raises for a backend outage."""
        with self._cond:
            self.counters["submitted"] += 1
            if self._closed:
                # too late for a batch: make it durable, the next run replays it
                self._store_or_lose([article], "ingestor closed")
                return
            if not self._buf:
                self._buf_since = time.monotonic()
            self._buf.append(article)
            if len(self._buf) >= self.batch_size:
                self._handoff_locked()
        self._kick()

    def maybe_flush(self) -> None:
        """Send the buffer if it is older than batch_interval_s; probe/replay the spool when due."""
        with self._cond:
            if self._buf and time.monotonic() - self._buf_since >= self.batch_interval_s:
                self._handoff_locked()
        self._kick()

    def mark(self) -> int:
        """A point in the stream of submitted articles, to hand to a later :meth:`flush`."""
        with self._cond:
            return self.counters["submitted"]

    def flush(self, timeout: float | None = None, *, since: int = 0) -> bool:
        """Send everything buffered and wait until it is indexed or spooled.

        True when every article submitted after ``since`` (a :meth:`mark`) reached the index or the
        spool; False when some may have reached neither, or the wait timed out first.
        """
        with self._cond:
            self._handoff_locked()
        if not self.background:
            self._pump()
            return self._lost_at <= since
        self._ensure_worker()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 1.0)
            return self._lost_at <= since

    def health(self) -> dict[str, str]:
        """``storage``: "failing" while the last store reached neither the index nor the spool."""
        error = self._storage_error
        return {"storage": "failing" if error else "ok", "reason": error}

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
            self._down_until = 0.0
            return self._drain_locked()

    def pending(self) -> int:
        """Articles not yet in the index: buffered, queued, or spooled."""
        with self._cond:
            mem = len(self._buf) + sum(len(b) for b in self._queue)
        return mem + self.spool.depth()

    def stats(self) -> dict[str, Any]:
        return {**self.counters, "spool_depth": self.spool.depth(), "backend_down": self._down_until > 0}

    def close(self, timeout: float | None = 60) -> None:
        """Flush, then stop the worker (the backend and spool stay open: their owner closes them)."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None

    # ------------------------------------------------------------------ internals
    def _handoff_locked(self) -> None:
        if self._buf:
            self._queue.append(self._buf)
            self._buf = []

    def _kick(self) -> None:
        if not self.background:
            self._pump()
            return
        self._ensure_worker()
        with self._cond:
            self._cond.notify_all()

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            with self._cond:
                if self._worker is None or not self._worker.is_alive():
                    self._worker = threading.Thread(target=self._run, name="mediawatch-ingest", daemon=True)
                    self._worker.start()

    def _pump(self) -> None:
        """Process everything queued (caller's thread)."""
        while True:
            with self._cond:
                batch = self._queue.popleft() if self._queue else None
            if batch is None:
                break
            self._process_safely(batch)
        if self._down_until and time.monotonic() >= self._down_until:
            with self._io:
                self._drain_locked()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    now = time.monotonic()
                    waits = [1.0]
                    if self._buf:
                        due = self._buf_since + self.batch_interval_s - now
                        if due <= 0:
                            self._handoff_locked()
                            break
                        waits.append(due)
                    if self._down_until:
                        probe = self._down_until - now
                        if probe <= 0:
                            break
                        waits.append(probe)
                    self._cond.wait(max(0.01, min(waits)))
                if self._closed and not self._queue:
                    return
                batch = self._queue.popleft() if self._queue else None
                self._busy = True
            try:
                if batch is not None:
                    self._process_safely(batch)
                elif self._down_until and time.monotonic() >= self._down_until:
                    with self._io:
                        self._drain_locked()
            except Exception as err:  # the worker must survive anything
                log.error("ingest.worker_error", error=str(err), exc_info=True)
                # a replay that keeps failing (its spool unusable) waits for the next probe, not a spin
                self._down_until = time.monotonic() + self._probe_delay
                self._probe_delay = min(self._probe_delay * 2, self.probe_max_s)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _mark_down(self, err: Exception) -> None:
        self._down_until = time.monotonic() + self._probe_delay
        log.warning("ingest.backend_down", error=str(err), next_probe_s=round(self._probe_delay, 1),
                    spool_depth=self.spool.depth())
        self._probe_delay = min(self._probe_delay * 2, self.probe_max_s)

    def _mark_up(self) -> None:
        if self._down_until:
            log.info("ingest.backend_up")
        self._down_until = 0.0
        self._probe_delay = self.probe_interval_s

    def _spool(self, batch: list[Article], reason: str) -> None:
        self.spool.append(batch)
        self._storage_error = ""
        self.counters["spooled"] += len(batch)
        log.info("ingest.spooled", count=len(batch), reason=reason[:200], spool_depth=self.spool.depth())

    def _process_safely(self, batch: list[Article]) -> None:
        try:
            self._process(batch)
        except Exception as err:  # e.g. the spool's disk is full while the backend is down
            log.error("ingest.batch_failed", error=str(err)[:500], count=len(batch), exc_info=True)
            self._store_or_lose(batch, f"batch failed: {err}")

    def _store_or_lose(self, batch: list[Article], reason: str) -> None:
        """Last resort: the spool, else count the batch as lost so the flush says so."""
        try:
            self._spool(batch, reason)
        except Exception as err:
            with self._cond:
                self._lost_at = self.counters["submitted"]
            self._storage_error = f"{reason[:200]}; spool: {err}"[:500]
            self.counters["unstored"] += len(batch)
            log.error("ingest.articles_unstored", count=len(batch), error=str(err)[:300], reason=reason[:200],
                      urls=[a.url for a in batch[:5]])

    def _process(self, batch: list[Article]) -> None:
        self.counters["batches"] += 1
        with self._io:
            if self.spool.depth():
                # older articles are waiting: queue behind them, then try to replay if a probe is due
                self._spool(batch, "spool not empty")
                if time.monotonic() >= self._down_until:
                    self._drain_locked()
                return
            if self._down_until and time.monotonic() < self._down_until:
                self._spool(batch, "backend down")
                return
            result = self._index_with_retry(batch)
            if result is None:
                self._spool(batch, "backend unavailable")
                return
            self._mark_up()
            self._storage_error = ""
            landed = self._settle(batch, result)
            if result.deferred:
                deferred = set(result.deferred)
                self._spool([a for a in batch if a.id in deferred], "deferred by backend")
        self._notify(landed)

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
