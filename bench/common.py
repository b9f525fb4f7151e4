"""Shared by every bench script: paths, arguments, medians, the result format (what a run cost is
``bench.proctree``'s).

Standard library only (the news-please driver runs in another virtualenv and needs none of it,
but ``bench.site``, ``bench.proctree`` and this module must import anywhere).

Result format (what ``python -m bench`` collects): every script prints, as its LAST stdout line,
one JSON object and, with ``--json OUT``, writes the same object to OUT::

    {"bench": "ceilings", "format": 1, "date": "...", "params": {...},
     "rows": [{"system": "scrapy fetch-only", "articles": 3000, "articles_per_s": 480.1,
               "cpu_s_per_article": 0.002, "peak_rss_mb": 95.0, "runs": [...], ...}],
     "targets": [{"what": "...", "value": 101.0, "target": ">= 100", "met": true}],
     "notes": ["..."]}

Figures in a row are medians over the runs; ``runs`` keeps every run's figures.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import platform
import socket
import statistics
import sys
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(os.environ.get("MEDIAWATCH_EVAL_DIR", REPO.parent / "shared" / "eval"))
AEB_DEV = EVAL_DIR / "aeb-dev"
CACHE = Path(os.environ.get("MEDIAWATCH_CACHE", Path.home() / ".cache" / "mediawatch")) / "bench"
RESULTS_DIR = Path(os.environ.get("MEDIAWATCH_BENCH_OUT", CACHE / "results"))
FORMAT = 1


def last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- statistics


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def combine_runs(system: str, runs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """One row: the median of every numeric figure over the runs, the runs kept as they were."""
    row: dict[str, Any] = {"system": system}
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float)) and not isinstance(runs[0][k], bool)] if runs else []
    for key in keys:
        value = median(r.get(key) for r in runs)
        row[key] = round(value, 5) if isinstance(value, float) else value
    row["n_runs"] = len(runs)
    row["runs"] = runs
    row.update(extra)
    return row


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    info["ram_gb"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------- scoring


def load_score_module():
    """``../shared/eval/score.py`` imported by path (reused, not copied)."""
    path = EVAL_DIR / "score.py"
    if not path.exists():
        raise FileNotFoundError(f"no scorer at {path} (set MEDIAWATCH_EVAL_DIR)")
    spec = importlib.util.spec_from_file_location("mediawatch_eval_score", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def score_texts(expected: dict[str, str], got: dict[str, str]) -> dict[str, Any]:
    """Word-4-gram F1/P/R (score.py's metric) over every URL of the site.

    ``expected``: url -> true body; ``got``: url -> extracted text of what the system stored.
    A URL the system never stored counts as an empty prediction (it costs recall only).
    """
    score = load_score_module()
    truth = {u: {"articleBody": t, "url": u} for u, t in expected.items()}
    results = {u: {"text": got.get(u, "")} for u in expected}
    ids = sorted(expected)
    metrics, _per_page = score.score(truth, ids, results, 0)
    return {"f1": round(metrics["f1"], 4), "precision": round(metrics["precision"], 4),
            "recall": round(metrics["recall"], 4), "scored_pages": len(ids),
            "stored_pages": sum(1 for u in ids if got.get(u))}


# --------------------------------------------------------------------------- output


def es_node(heap: str):
    """A started throwaway node from the test harness, as a service would run it: the full JIT (the suite's
    C1-only JIT starts sooner but indexes slower) on the newest JDK installed."""
    from tests.harness.elasticsearch import ElasticsearchNode, newest_java_home

    node = ElasticsearchNode(heap=heap, quick_jit=False, java=newest_java_home())
    node.start()
    return node


def quiet_logs() -> None:
    """A benchmark's output is its table; our info logs (skipped pages, index init) would bury it."""
    import structlog

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def result(bench: str, rows: list[dict[str, Any]], *, params: dict[str, Any] | None = None,
           targets: list[dict[str, Any]] | None = None, notes: list[str] | None = None) -> dict[str, Any]:
    return {"bench": bench, "format": FORMAT, "date": now_iso(), "machine": machine_info(),
            "params": params or {}, "rows": rows, "targets": targets or [], "notes": notes or []}


def target(what: str, value: float | None, op: str, goal: float) -> dict[str, Any]:
    met = None
    if value is not None:
        met = value >= goal if op == ">=" else value <= goal
    return {"what": what, "value": value, "target": f"{op} {goal:g}", "met": met}


def print_rows(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> None:
    """columns: (key, header, format) e.g. ("articles_per_s", "art/s", "{:.1f}")."""
    print(f"\n{title}")
    header = f"{'system':<34}" + "".join(f"{h:>14}" for _k, h, _f in columns)
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = []
        for key, _h, fmt in columns:
            v = row.get(key)
            if isinstance(v, float) and fmt.endswith("d}"):  # the median of an even number of counts
                v = round(v)
            cells.append(f"{(fmt.format(v) if v is not None else '-'):>14}")
        print(f"{row['system'][:34]:<34}" + "".join(cells))


def emit(payload: dict[str, Any], json_out: str | Path | None) -> None:
    """Write ``--json OUT`` (if given) and print the payload as the last stdout line."""
    text = json.dumps(payload, default=str)
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(text + "\n", encoding="utf-8")
    sys.stdout.flush()
    print(text, flush=True)


def exit_on_sigterm() -> None:
    """SIGTERM -> SystemExit, so ``with`` blocks stop nginx / Elasticsearch / workers on the way out."""
    import signal

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def add_common_args(ap, *, pages: int = 3000, runs: int = 3) -> None:
    ap.add_argument("--pages", type=int, default=pages, help=f"article pages on the local site (default {pages})")
    ap.add_argument("--runs", type=int, default=runs, help=f"measured runs; figures are medians (default {runs})")
    ap.add_argument("--quick", action="store_true", help="smoke test: 300 pages, 1 run")
    ap.add_argument("--json", dest="json_out", help="also write the result JSON here")
    ap.add_argument("--server", choices=["auto", "nginx", "python"], default="auto",
                    help="what serves the site (default: nginx, else a threaded Python server)")
    ap.add_argument("--keep", action="store_true", help="keep the site's temp dir and logs")


def apply_quick(args) -> None:
    if getattr(args, "quick", False):
        args.pages = min(args.pages, 300)
        args.runs = 1
