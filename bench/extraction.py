#!/usr/bin/env python3
"""Extraction benchmark: mediawatch vs trafilatura (default, favor_precision) vs readability-lxml.

Body text (word 4-gram F1/P/R, pages/s) on ../shared/eval/aeb-dev and title/date/author
exact-match rates on ../shared/eval/traf-dev, all through the shared scorer so every system
is measured the same way. Run from the repo root:

    .venv/bin/python bench/extraction.py [--skip-traf-dev]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))


def load_scorer():
    spec = importlib.util.spec_from_file_location("shared_score", SHARED / "eval" / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mediawatch(html: str, url: str) -> dict:
    from crawler.extraction import score_adapter

    return score_adapter(html, url)


def trafilatura_default(html: str, url: str) -> dict:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return {"text": ""}
    return {"text": doc.text or "", "title": doc.title, "date": doc.date, "authors": doc.author}


def trafilatura_precision(html: str, url: str) -> dict:
    import trafilatura

    return {"text": trafilatura.extract(html, url=url, favor_precision=True) or ""}


def readability(html: str, url: str) -> dict:
    import lxml.html
    from readability import Document

    summary = Document(html).summary()
    return {"text": lxml.html.fromstring(summary).text_content() if summary.strip() else ""}


SYSTEMS = {
    "mediawatch": mediawatch,
    "trafilatura": trafilatura_default,
    "trafilatura-precision": trafilatura_precision,
    "readability-lxml": readability,
}


def load_pages(score, data: str) -> tuple[str, dict, list[dict]]:
    kind, truth = score.load_truth(data)
    pages = []
    for pid in sorted(truth):
        path = score.find_page(data, pid)
        pages.append({"id": pid, "url": truth[pid].get("url", ""),
                      "html": score.decode_html(score.read_bytes(path))})
    return kind, truth, pages


def run(fn, pages: list[dict]) -> tuple[dict, float]:
    fn(pages[0]["html"], pages[0]["url"])  # warm-up: imports and lazy tables, untimed
    results = {}
    t0 = time.perf_counter()
    for page in pages:
        try:
            results[page["id"]] = fn(page["html"], page["url"])
        except Exception:  # a crash scores as empty output, as in the shared scorer
            results[page["id"]] = {"text": ""}
    return results, len(pages) / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-traf-dev", action="store_true", help="body-text benchmark only")
    args = ap.parse_args()
    score = load_scorer()

    data = str(SHARED / "eval" / "aeb-dev")
    _, truth, pages = load_pages(score, data)
    ids = [p["id"] for p in pages]
    print(f"aeb-dev: {len(pages)} pages, word-4-gram F1 of mean P and mean R, single process")
    print(f"{'system':<24} {'F1':>6} {'P':>6} {'R':>6} {'pages/s':>8}")
    for name, fn in SYSTEMS.items():
        results, pps = run(fn, pages)
        m, _ = score.score(truth, ids, results, n_boot=0)
        print(f"{name:<24} {m['f1']:6.3f} {m['precision']:6.3f} {m['recall']:6.3f} {pps:8.1f}", flush=True)

    if args.skip_traf_dev:
        return 0
    data = str(SHARED / "eval" / "traf-dev")
    _, truth, pages = load_pages(score, data)
    ids = [p["id"] for p in pages]
    print(f"\ntraf-dev: {len(pages)} pages, snippet F1 and exact-match rates of title/date/authors")
    print(f"{'system':<24} {'F1':>6} {'title':>6} {'date':>6} {'author':>6} {'pages/s':>8}")
    for name in ("mediawatch", "trafilatura"):
        results, pps = run(SYSTEMS[name], pages)
        m, _ = score.score_snippets(truth, ids, results, n_boot=0)
        meta = m["meta"]
        print(f"{name:<24} {m['f1']:6.3f} {meta.get('title', 0):6.3f} {meta.get('date', 0):6.3f} "
              f"{meta.get('authors', 0):6.3f} {pps:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
