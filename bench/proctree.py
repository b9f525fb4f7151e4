"""What a bench run cost: CPU seconds, summed RSS and wall time of a process tree, read from /proc,
and the figures a result row gives them.

Standard library only, like ``bench.common``: the news-please driver runs in another virtualenv.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from bench.common import last_json_line

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_wait_s() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux's schedstat; 0 elsewhere): the
    part of a timed call's wall time that the machine's other work took."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def written_bytes() -> int:
    """Bytes this process has caused to be written to storage (``write_bytes`` of /proc/self/io; 0
    elsewhere): a database's write amplification, the WAL and its checkpoints included."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("write_bytes:"))
    except (OSError, StopIteration, ValueError):
        return 0


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

    Walks down from root where the kernel allows: the sampler runs inside the measured process, so
    it must stay cheap, and a scan of every process on the box is not."""
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
