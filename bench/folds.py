"""Extraction by fold: does what we tuned on some sites carry over to sites we never looked at?

Each dev set (../shared/eval/aeb-dev, ../shared/eval/traf-dev) is split BY SITE into k folds
(deterministic: sites ordered by a salted hash, each put into the fold with the fewest pages
so far), so one site's pages never straddle two folds. Per fold it prints, through the shared
scorer's own functions (score.py, imported by path):

- aeb-dev: body F1, precision, recall (word-4-gram shingles);
- traf-dev: body F1, precision, recall (with/without snippets) and the exact-match rates of
  title, date and authors;

for mediawatch and, as the peer, trafilatura's ``bare_extraction`` on the same pages.

Tuning protocol: look at the pages of two folds only (``--show-misses --fold 0 --fold 1``),
change the code, then read the third fold's figures; rotate. A change stays only if it helps
on folds it was not tuned on.

    .venv/bin/python -m bench.folds                    # both sets, 3 folds, both systems
    .venv/bin/python -m bench.folds --only mediawatch  # the peer's figures do not move
    .venv/bin/python -m bench.folds --show-misses --fold 0 --fold 1 --set traf-dev
    .venv/bin/python -m bench.folds -k 4 --salt s4-a   # fresh folds: pages not yet tuned on
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

from bench import common

SALT = "mediawatch-folds-v1"
DEFAULT_K = 3
QUICK_PAGES = 60  # per set
# Labels that end a host in traf-dev's file names ("dw.com.colonial.html"): generic TLDs; any
# two-letter label is taken as a country code.
_GTLDS = {"com", "net", "org", "edu", "gov", "info", "biz", "io", "news", "blog", "tv"}


def host_from_file(name: str) -> str:
    """traf-dev's "hard::" pages have no URL, only a file name that starts with the host."""
    stem = re.sub(r"\.html?$", "", name).split("-", 1)[0]
    labels = stem.split(".")
    end = 0
    for i, label in enumerate(labels[1:], start=1):
        low = label.lower()
        if low in _GTLDS or (len(low) == 2 and low.isalpha()):
            end = i
        elif end:
            break
    return ".".join(labels[: end + 1]) if end else stem


def site_of(score, pid: str, item: dict[str, Any]) -> str:
    url = item.get("url") or ""
    if not url.startswith(("http://", "https://")):
        url = "http://" + host_from_file(item.get("file") or pid)
    return score.site_of(url)


def make_folds(score, truth: dict[str, dict[str, Any]], k: int, salt: str = SALT) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for pid, item in truth.items():
        groups.setdefault(site_of(score, pid, item), []).append(pid)
    order = sorted(groups, key=lambda s: hashlib.sha256(f"{salt}:{s}".encode()).hexdigest())
    folds: list[list[str]] = [[] for _ in range(k)]
    for site in order:
        min(folds, key=len).extend(groups[site])
    return [sorted(f) for f in folds]


# --------------------------------------------------------------------------- systems


def mediawatch(html: str, url: str) -> dict[str, Any]:
    from crawler.extraction import score_adapter

    return score_adapter(html, url)


def trafilatura_bare(html: str, url: str) -> dict[str, Any]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True)
    if doc is None:
        return {"text": ""}
    return {"text": doc.text or "", "title": doc.title or "", "date": doc.date or "", "authors": doc.author or ""}


SYSTEMS: dict[str, Callable[[str, str], dict[str, Any]]] = {"mediawatch": mediawatch, "trafilatura": trafilatura_bare}


def _peer_cache_path(name: str, set_name: str) -> Path | None:
    """trafilatura's outputs only change with its version: kept, so re-runs while tuning are quick."""
    if name != "trafilatura":
        return None
    import trafilatura

    return common.CACHE / f"folds-{set_name}-trafilatura-{trafilatura.__version__}.json"


def run_system(name: str, set_name: str, pages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    cache = _peer_cache_path(name, set_name)
    cached: dict[str, Any] = {}
    if cache and cache.exists():
        cached = json.loads(cache.read_text(encoding="utf-8"))
    fn = SYSTEMS[name]
    out: dict[str, dict[str, Any]] = {}
    for page in pages:
        key = hashlib.sha1(page["html"].encode("utf-8", "replace")).hexdigest()
        if key in cached:
            out[page["id"]] = cached[key]
            continue
        try:
            out[page["id"]] = cached[key] = fn(page["html"], page["url"])
        except Exception as exc:  # a crash is an empty output, as in the shared scorer
            print(f"  [{name}] {page['id'][:40]}: {type(exc).__name__}: {exc}", file=sys.stderr)
            out[page["id"]] = {"text": ""}
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(cached, default=str), encoding="utf-8")
    return out


# --------------------------------------------------------------------------- scoring


def load_set(score, set_name: str, limit: int | None) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    data = str(common.EVAL_DIR / set_name)
    kind, truth = score.load_truth(data)
    pages = []
    for pid in sorted(truth)[:limit]:
        path = score.find_page(data, pid)
        if path is None:
            continue
        pages.append({"id": pid, "url": truth[pid].get("url", ""),
                      "html": score.decode_html(score.read_bytes(path))})
    if limit:
        kept = {p["id"] for p in pages}
        truth = {pid: item for pid, item in truth.items() if pid in kept}
    return kind, truth, pages


def fold_metrics(score, kind: str, truth: dict[str, Any], ids: list[str],
                 results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if kind == "aeb":
        m, _ = score.score(truth, ids, results, 0)
        return {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"]}
    m, _ = score.score_snippets(truth, ids, results, 0)
    # score.meta_scores leaves out a field the system never returned; that is a 0, not a gap
    out = {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"]}
    out.update({k: m["meta"].get(k, 0.0) for k in ("title", "date", "authors")})
    return out


def _fmt_row(label: str, n: int, sites: int, m: dict[str, Any], cols: list[str]) -> str:
    return f"{label:<26} {n:>5} {sites:>5} " + " ".join(f"{m[c]:>7.3f}" for c in cols)


def misses(score, kind: str, truth: dict[str, Any], ids: list[str], results: dict[str, dict[str, Any]]) -> None:
    """Per page of the given folds: what the truth says and what we returned, where they differ."""
    if kind == "aeb":
        for pid in ids:
            c = score.page_counts(truth[pid].get("articleBody", ""), results.get(pid, {}).get("text", ""))
            p, r, f = score.page_prf(c)
            if f is not None and f < 0.9:
                print(f"  body f1={f:.3f} p={p or 0:.3f} r={r or 0:.3f}  {truth[pid].get('url', pid)}")
        return
    for pid in ids:
        res = results.get(pid, {})
        # score.meta_scores on one page: 1.0 where it matches, 0.0 where not, absent without truth;
        # it skips a field the system never returned, so an empty one is filled with a blank
        filled = dict(res, **{f: res.get(f) or " " for f in ("title", "date", "authors")})
        for field, rate in score.meta_scores(truth, [pid], {pid: filled}).items():
            if rate < 1:
                want = truth[pid].get("author" if field == "authors" else field)
                print(f"  {field:<7} want={str(want)[:70]!r} got={str(res.get(field))[:70]!r}  {pid[:70]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", "--folds", type=int, default=DEFAULT_K, help=f"folds per set (default {DEFAULT_K})")
    ap.add_argument("--salt", default=SALT,
                    help=f"salt of the split (default {SALT}); another salt gives fresh folds, "
                         "whose pages nobody has tuned on")
    ap.add_argument("--set", action="append", choices=["aeb-dev", "traf-dev"], help="dev set(s) (default both)")
    ap.add_argument("--only", action="append", choices=sorted(SYSTEMS), help="system(s) (default both)")
    ap.add_argument("--quick", action="store_true", help=f"smoke run: the first {QUICK_PAGES} pages of each set")
    ap.add_argument("--show-misses", action="store_true", help="list mediawatch's misses on --fold folds")
    ap.add_argument("--fold", action="append", type=int, default=[], help="with --show-misses: these folds")
    ap.add_argument("--dump", help="write mediawatch's per-page outputs here (JSON), to diff two versions")
    ap.add_argument("--json", dest="json_out", help="also write the result JSON here")
    args = ap.parse_args(argv)
    dumped: dict[str, Any] = {}
    common.quiet_logs()
    score = common.load_score_module()
    systems = args.only or list(SYSTEMS)
    rows: list[dict[str, Any]] = []
    for set_name in args.set or ["aeb-dev", "traf-dev"]:
        kind, truth, pages = load_set(score, set_name, QUICK_PAGES if args.quick else None)
        folds = make_folds(score, truth, args.folds, args.salt)
        cols = ["f1", "precision", "recall"] + (["title", "date", "authors"] if kind == "snippets" else [])
        print(f"\n{set_name}: {len(pages)} pages, {args.folds} folds by site (salt {args.salt}); "
              + ("word-4-gram body F1/P/R" if kind == "aeb" else
                 "snippet body F1/P/R, exact-match rates of title/date/authors"))
        print(f"{'system':<26} {'pages':>5} {'sites':>5} " + " ".join(f"{c[:7]:>7}" for c in cols))
        for name in systems:
            results = run_system(name, set_name, pages)
            if name == "mediawatch":
                dumped[set_name] = {pid: {k: v for k, v in r.items() if k != "text"} for pid, r in results.items()}
            per_fold = []
            for i, ids in enumerate(folds):
                m = fold_metrics(score, kind, truth, ids, results)
                sites = len({site_of(score, pid, truth[pid]) for pid in ids})
                print(_fmt_row(f"{name} fold {i}", len(ids), sites, m, cols))
                per_fold.append(m)
                rows.append({"system": f"{name} {set_name} fold {i}", "pages": len(ids),
                             **{c: round(m[c], 4) for c in cols}})
            all_ids = [pid for f in folds for pid in f]
            m = fold_metrics(score, kind, truth, all_ids, results)
            spread = {c: max(f[c] for f in per_fold) - min(f[c] for f in per_fold) for c in cols}
            print(_fmt_row(f"{name} all", len(all_ids), len({site_of(score, p, truth[p]) for p in all_ids}), m, cols))
            print(f"{'  spread (max-min of folds)':<38} " + " ".join(f"{spread[c]:>7.3f}" for c in cols))
            rows.append({"system": f"{name} {set_name} all", "pages": len(all_ids),
                         **{c: round(m[c], 4) for c in cols},
                         "fold_mean_f1": round(statistics.fmean(f["f1"] for f in per_fold), 4)})
            if args.show_misses and name == "mediawatch":
                for i in args.fold or range(args.folds):
                    print(f"\n  misses, {set_name} fold {i}:")
                    misses(score, kind, truth, folds[i], results)
    if args.dump:
        Path(args.dump).write_text(json.dumps(dumped, default=str, ensure_ascii=False, indent=0), encoding="utf-8")
    payload = common.result("folds", rows, params={"k": args.folds, "salt": args.salt, "quick": args.quick},
                            notes=["folds group pages by site (score.site_of of the page URL; traf-dev's "
                                   "URL-less pages by the host their file name starts with)"])
    common.emit(payload, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
