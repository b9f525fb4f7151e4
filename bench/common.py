"""Shared by every bench script: timing, CPU and RSS of a process tree, medians, the result format.

Standard library only (the news-please driver runs in another virtualenv and needs none of it,
but ``bench.site`` and this module must import anywhere).

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
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
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
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- processes


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 = state, field 3 of stat(5))."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat(int(name))
        if fields:
            kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


# Linux with CONFIG_PROC_CHILDREN lists each thread's children: the tree is walked down from its root
_CHILDREN_FILES = os.path.exists(f"/proc/self/task/{os.getpid()}/children")


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids  # gone
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                kids.extend(int(x) for x in fh.read().split())
        except OSError:
            continue  # a thread that ended meanwhile
    return kids


def process_tree(root: int, exclude: Iterable[int] = ()) -> list[int]:
    """root and its live descendants, minus the subtrees rooted at ``exclude`` (servers).

    Walks down from root where the kernel allows (the sampler runs inside the measured process, so
    it must stay cheap: a scan of every process on the box cost ~1% of a core at 5 samples/s)."""
    skip = set(exclude)
    children = _children if _CHILDREN_FILES else children_map().get
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in skip:
            continue
        out.append(pid)
        todo.extend(children(pid) or ())
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds_tree(root: int | None = None, exclude: Iterable[int] = ()) -> float:
    """User+system CPU seconds of this process (or ``root``) and all its descendants so far.

    For ourselves: getrusage(SELF) + getrusage(CHILDREN) (children already waited for) plus
    the live descendants read from /proc (a process pool that is still up).
    """
    me = os.getpid()
    total = 0.0
    if root is None or root == me:
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            ru = resource.getrusage(who)
            total += ru.ru_utime + ru.ru_stime
        pids = [p for p in process_tree(me, exclude) if p != me]
    else:
        pids = process_tree(root, exclude)
    for pid in pids:
        fields = _stat(pid)
        if fields:  # utime stime cutime cstime = fields 14..17 of stat(5) = index 11..14 here
            total += sum(int(x) for x in fields[11:15]) / _TICK
    return total


class TreeSampler:
    """Calls ``sample()`` every ``interval`` seconds in a thread while the ``with`` block runs
    (once more on entry), for figures of a process tree the kernel does not add up for us."""

    def __init__(self, root: int | None = None, interval: float = 0.2) -> None:
        self.root = root or os.getpid()
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def sample(self) -> Any:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


class PeakRss(TreeSampler):
    """Samples the summed RSS of a process tree in a thread; ``peak`` in bytes.

    Summed RSS counts pages that forked workers share more than once: it is an upper bound,
    the honest figure for "how much RAM does this need" on a box without swap.
    """

    def __init__(self, root: int | None = None, interval: float = 0.2, exclude: Iterable[int] = ()) -> None:
        super().__init__(root, interval)
        self.exclude = set(exclude)
        self.peak = 0
        self.peak_single = 0

    def sample(self) -> int:
        sizes = [rss_bytes(p) for p in process_tree(self.root, self.exclude)]
        total = sum(sizes)
        self.peak = max(self.peak, total)
        self.peak_single = max([self.peak_single, *sizes])
        return total

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


class Meter:
    """Wall time, CPU seconds (tree) and peak RSS (tree) of a block run in THIS process."""

    def __init__(self, interval: float = 0.2) -> None:
        self.rss = PeakRss(interval=interval)
        self.wall = self.cpu = 0.0

    def __enter__(self) -> "Meter":
        self._cpu0 = cpu_seconds_tree()
        self._t0 = time.perf_counter()
        self.rss.__enter__()
        return self

    def stop(self) -> None:
        """Take the figures now (e.g. before a pool is shut down and its CPU would be lost)."""
        if not self.wall:
            self.wall = time.perf_counter() - self._t0
            self.cpu = cpu_seconds_tree() - self._cpu0

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.rss.__exit__()

    def figures(self, articles: int) -> dict[str, Any]:
        return figures(articles, self.wall, self.cpu, self.rss.peak_mb)


def figures(articles: int, wall: float, cpu: float, peak_rss_mb: float | None) -> dict[str, Any]:
    return {
        "articles": articles,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "articles_per_s": round(articles / wall, 2) if wall > 0 else None,
        "cpu_s_per_article": round(cpu / articles, 5) if articles else None,
        "peak_rss_mb": round(peak_rss_mb, 1) if peak_rss_mb is not None else None,
    }


def run_worker(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
               timeout: float = 3600, log_path: Path | None = None) -> tuple[dict[str, Any], float]:
    """Run one measured run in a fresh process (a Scrapy reactor runs once per process).

    The worker prints its figures as the last JSON line on stdout; the parent adds the peak
    RSS of the worker's whole process tree (pools included) and returns (result, peak_mb).
    """
    err = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=err)
        sampler = PeakRss(proc.pid, interval=0.2)
        with sampler:
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                raise RuntimeError(f"worker timed out after {timeout}s: {' '.join(map(str, argv[:4]))}")
    finally:
        if log_path:
            err.close()
    result = last_json_line(out.decode("utf-8", "replace"))
    if proc.returncode != 0 or result is None:
        tail = ""
        if log_path and Path(log_path).exists():
            tail = "\n".join(Path(log_path).read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"worker exited {proc.returncode} without a result; log tail:\n{tail}")
    return result, sampler.peak_mb


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


def spread(runs: list[dict[str, Any]], key: str) -> str:
    vals = [r[key] for r in runs if r.get(key) is not None]
    if len(vals) < 2:
        return ""
    return f"{min(vals):g}..{max(vals):g}"


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
