"""From extracted articles to the index, without losing one.

:class:`Ingestor` buffers submitted articles and hands them, in batches (by size and by age), to its
:class:`~indexer.batchwriter.BatchWriter`, which writes each to the backend, else to the durable spool
(retries, probes, replay in order, quarantine: see there).

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
from indexer.backends.base import Backend
from indexer.batchwriter import BatchWriter
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
        """``prepare`` runs once before the first write (see :class:`~indexer.batchwriter.BatchWriter`)."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.backend = backend
        self.spool = spool
        self.batch_size = batch_size
        self.batch_interval_s = batch_interval_s
        self.background = background
        self.counters = {"submitted": 0, "indexed": 0, "spooled": 0, "replayed": 0, "quarantined": 0,
                         "batches": 0, "failed_attempts": 0, "unstored": 0, "unchanged": 0}
        self.writer = BatchWriter(backend, spool, self.counters, batch_size=batch_size, on_indexed=on_indexed,
                                  retry_attempts=retry_attempts, retry_backoff_s=retry_backoff_s,
                                  probe_interval_s=probe_interval_s, probe_max_s=probe_max_s, prepare=prepare)
        self._cond = threading.Condition()
        self._buf: list[Article] = []
        self._buf_since = 0.0
        self._queue: deque[list[Article]] = deque()
        self._busy = False
        self._closed = False
        self._worker: threading.Thread | None = None
        # The submit count when a batch was last lost: a flush answers for the articles submitted
        # after its caller's mark, and any of them may have been in that batch.
        self._lost_at = 0

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
        error = self.writer.storage_error
        return {"storage": "failing" if error else "ok", "reason": error}

    def prepare(self) -> bool:
        """Set the backend up now if it is not yet (the probe retries when it fails); True when ready."""
        return self.writer.prepare()

    def drain(self) -> int:
        """Replay the spool now (oldest first), whatever the probe timer says; returns articles replayed."""
        return self.writer.drain()

    def pending(self) -> int:
        """Articles not yet in the index: buffered, queued, or spooled."""
        with self._cond:
            mem = len(self._buf) + sum(len(b) for b in self._queue)
        return mem + self.spool.depth()

    def stats(self) -> dict[str, Any]:
        return {**self.counters, "spool_depth": self.spool.depth(), "backend_down": self.writer.down_until > 0}

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
        self.writer.replay_if_due()

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
                    if self.writer.down_until:
                        probe = self.writer.down_until - now
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
                else:
                    self.writer.replay_if_due()
            except Exception as err:  # the worker must survive anything
                log.error("ingest.worker_error", error=str(err), exc_info=True)
                self.writer.back_off()  # a replay that keeps failing (its spool unusable) waits, not spins
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _process_safely(self, batch: list[Article]) -> None:
        try:
            self.writer.store(batch)
        except Exception as err:  # e.g. the spool's disk is full while the backend is down
            log.error("ingest.batch_failed", error=str(err)[:500], count=len(batch), exc_info=True)
            self._store_or_lose(batch, f"batch failed: {err}")

    def _store_or_lose(self, batch: list[Article], reason: str) -> None:
        """Last resort: the spool, else count the batch as lost so the flush says so."""
        if not self.writer.spool_or_lose(batch, reason):
            with self._cond:
                self._lost_at = self.counters["submitted"]
