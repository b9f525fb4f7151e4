"""The articles of ``bench.scale_index``: made from the dev pages, varied so that no two are equal, the
query set, and the measured batches signed in a process pool as the daemon's extraction workers sign them."""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Iterator
from urllib.parse import urlparse

from crawler.sources import CrawlSettings
from indexer.article import Article
from indexer.backends.base import Backend
from indexer.query import fold_article, tokenize
from indexer.signatures import sign

from bench import common

GROUND_TRUTH = common.AEB_DEV / "ground-truth.json"
SOURCES_PER_HOST = 100


class Corpus:
    """The dev pages, and the N-th distinct article made from them."""

    def __init__(self, n: int, days: int, now: datetime) -> None:
        data = json.loads(GROUND_TRUTH.read_text())
        self.items = []
        for key in sorted(data):
            item = data[key]
            paras = [p for p in item["articleBody"].split("\n") if p.strip()]
            host = (urlparse(item["url"]).hostname or "x").removeprefix("www.")
            self.items.append((item["url"], host, paras))
        self.n = n
        self.start = now - timedelta(days=days)
        self.step = timedelta(days=days) / max(1, n)

    def article(self, i: int, published: datetime | None = None) -> Article:
        url, host, paras = self.items[i % len(self.items)]
        rnd = random.Random(i)
        k = rnd.randrange(len(paras))
        body = paras[k:] + paras[:k]
        if len(body) > 2:
            del body[rnd.randrange(1, len(body))]
        body[-1] = f"{body[-1]} vq{i:x}"
        text = "\n".join(body)
        return Article(
            url=f"{url}?v={i}", title=f"{paras[0][:100]} ({i})", text=text,
            description=" ".join(text.split()[:30]), source=f"{host}-{i % SOURCES_PER_HOST}", language="en",
            authors=[f"Author {i % 500}"], tags=[f"t{i % 20}"],
            published_at=published or self.start + self.step * i,
        )

    def first_unused(self, backend: Backend, held: int) -> int:
        """The first article number past those a kept index holds. Not ``count()``: a retention pass deletes
        the oldest, so the count falls below numbers already written, and articles made again from those are
        found unchanged and never written (a run of them measured the lookup alone). The corpus numbers a kept
        index holds are one run [oldest kept, last written): gallop past its end, then halve."""
        def stored(i: int) -> bool:
            return backend.get(self.article(i).id) is not None

        lo, step = held, 1
        if not stored(lo):
            return lo
        while stored(lo + step):
            lo, step = lo + step, 2 * step
        hi = lo + step  # stored(lo), not stored(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if stored(mid) else (lo, mid)
        return hi

    def batches(self, first: int, last: int, size: int) -> Iterator[list[Article]]:
        for lo in range(first, last, size):
            yield [self.article(i) for i in range(lo, min(last, lo + size))]

    def queries(self, n_indexed: int, now: datetime) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(label, query, filters) x 20, from the dev pages' document frequencies."""
        df: Counter[str] = Counter()
        for _url, _host, paras in self.items:
            df.update({t for t in tokenize(" ".join(paras)) if t.isalpha() and len(t) >= 6})
        rare_all = sorted(t for t, c in df.items() if c == 1)
        # ties broken by the word: set order changes with the process's hash seed
        common_words = [t for t, _c in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[:40]][:4]
        rnd = random.Random(20)
        rare = rnd.sample([t for t in rare_all if t.isascii()], 2) + rnd.sample([t for t in rare_all if not t.isascii()], 2)
        # a phrase from the middle of three pages' first paragraphs
        phrases = []
        for _url, _host, paras in self.items[3:60:20]:
            words = [w for w in re.findall(r"[A-Za-z]+", paras[0])]
            mid = len(words) // 2
            phrases.append(" ".join(words[mid:mid + 3]))
        # a source and a month that hold articles with the common word, whatever size the run reached
        host = next(h for _u, h, paras in self.items if common_words[0] in tokenize(" ".join(paras)))
        month_end = self.start + self.step * max(0, n_indexed - 1) - timedelta(days=60)
        month = {"since": month_end - timedelta(days=30), "until": month_end}
        last = max(0, n_indexed - 1)
        return [
            *[(f"rare word {w}", w, {}) for w in rare],
            ("own token (1 article, newest)", f"vq{last:x}", {}),
            ("own token (1 article, oldest kept)", f"vq{last // 2:x}", {}),
            *[(f"common word {w}", w, {}) for w in common_words],
            *[(f'phrase "{p}"', f'"{p}"', {}) for p in phrases],
            (f"{common_words[0]} AND {rare[0]}", f"{common_words[0]} AND {rare[0]}", {}),
            (f"({common_words[1]} OR {common_words[2]}) NOT {common_words[3]}",
             f"({common_words[1]} OR {common_words[2]}) AND NOT {common_words[3]}", {}),
            (f"prefix {common_words[0][:4]}*", f"{common_words[0][:4]}*", {}),
            (f"{common_words[0]}, one source", common_words[0], {"sources": [f"{host}-7"]}),
            ("all of one source", None, {"sources": [f"{host}-7"]}),
            (f"{common_words[1]}, one month", common_words[1], month),
            (f'phrase "{phrases[0]}", one month', f'"{phrases[0]}"', month),
        ]


_WORKER_CORPUS: Corpus | None = None


def _worker_init(corpus: Corpus, niceness: int) -> None:
    global _WORKER_CORPUS
    _WORKER_CORPUS = corpus
    if niceness:
        os.nice(niceness)


def _signed_batch(lo: int, hi: int) -> tuple[list[Article], float]:
    """In a pool worker: articles lo..hi-1 made, signed and folded as the daemon's extraction workers leave
    them, and the CPU seconds that took."""
    assert _WORKER_CORPUS is not None
    docs = [_WORKER_CORPUS.article(i) for i in range(lo, hi)]
    c0 = time.process_time()
    for a in docs:
        sign(a)
        fold_article(a)
    return docs, time.process_time() - c0


class SignedBatches:
    """The measured batches, made and signed in a process pool, a few batches ahead of the writer; the pool
    runs below the writer's priority, as the daemon's extraction workers do (``crawl.extraction_niceness``)."""

    AHEAD = 2

    def __init__(self, corpus: Corpus, workers: int) -> None:
        self.corpus, self.workers = corpus, workers
        niceness = CrawlSettings.model_fields["extraction_niceness"].default
        self.pool = ProcessPoolExecutor(workers, initializer=_worker_init, initargs=(corpus, niceness)) \
            if workers else None
        self.sign_cpu_s = 0.0

    def batches(self, first: int, last: int, size: int) -> Iterator[list[Article]]:
        if self.pool is None:
            yield from self.corpus.batches(first, last, size)
            return
        ranges = [(lo, min(last, lo + size)) for lo in range(first, last, size)]
        # a batch is cut into one piece per worker, so every worker signs a share of each batch
        pending = []
        for lo, hi in ranges:
            step = -(-(hi - lo) // self.workers)
            pending.append([self.pool.submit(_signed_batch, a, min(hi, a + step)) for a in range(lo, hi, step)])
            if len(pending) > self.AHEAD:
                yield self._collect(pending.pop(0))
        while pending:
            yield self._collect(pending.pop(0))

    def _collect(self, futures) -> list[Article]:
        docs: list[Article] = []
        for fut in futures:
            part, cpu = fut.result()
            docs.extend(part)
            self.sign_cpu_s += cpu
        return docs

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
