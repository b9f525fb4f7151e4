"""Memory over a long run: many crawl cycles in one process, as the daemon does them.

Phase 1: one source, CYCLES crawl cycles against a fixture site that gains an article every
few cycles; RSS after warm-up must not grow by more than 20 MB.
Phase 2: 50 sources (50 fixture sites), a few cycles; steady RSS must stay <= 300 MB.

    python -m bench.memory [--cycles 500] [--sources 50] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import emit, print_rows, result, target
from bench.proctree import process_tree, rss_bytes

MB = 1024 * 1024


def _app(root: Path, sources: list[dict]):
    from scheduler.app import build
    from scheduler.config import Config

    cfg = Config.model_validate({
        "data_dir": str(root),
        "index": {"sqlite_path": str(root / "index.sqlite3"), "spool_path": str(root / "spool"),
                  "bulk_interval_s": 0.5},
        "mail": {"outbox": str(root / "outbox"), "ledger_path": str(root / "alerts.sqlite3")},
        "crawl": {"state_path": str(root / "crawl.sqlite3"), "download_delay": 0, "autothrottle": False,
                  "concurrent_requests_per_host": 8},
        "sources": sources,
        "rules": [{"name": "lukashenko", "query": "Lukashenko AND (prison OR jail)",
                   "recipients": ["a@example.org"]}],
    })
    app = build(cfg)
    app.backend.init()
    return cfg, app


def _pss(pid: int) -> int:
    """Proportional set size: forked extraction workers share pages with the parent, and RSS
    would count those pages once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss_bytes(pid)


_SERVERS: list[int] = []


def tree_rss_mb() -> float:
    return sum(_pss(pid) for pid in process_tree(os.getpid(), exclude=_SERVERS)) / MB


class SiteServer:
    """Fixture sites served from a child process, so their pages don't count as our memory."""

    def __init__(self, count: int, articles: int) -> None:
        import json
        import subprocess

        code = (
            "import json, sys, time\n"
            "from tests.harness.sites import FixtureSite\n"
            f"sites = [FixtureSite({articles}) for _ in range({count})]\n"
            "print(json.dumps([s.rss_url for s in sites]), flush=True)\n"
            "for line in sys.stdin:\n"
            "    sites[int(line)].add_article()\n"
        )
        repo = Path(__file__).resolve().parents[1]
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        _SERVERS.append(self.proc.pid)
        self.feeds = json.loads(self.proc.stdout.readline())

    def source(self, i: int, name: str) -> dict:
        return {"name": name, "feeds": [self.feeds[i]], "allow_private_addresses": True}

    def add_article(self, i: int) -> None:
        self.proc.stdin.write(f"{i}\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait()


def run_cycles(cfg, app, cycles: int, on_cycle=None) -> list[float]:
    from crawler.runner import run_crawl_blocking

    samples = []
    for i in range(cycles):
        if on_cycle:
            on_cycle(i)
        run_crawl_blocking(cfg.sources, cfg.crawl, app.ingestor)
        app.ingestor.flush()
        app.alerts.send_due()
        samples.append(tree_rss_mb())
        if (i + 1) % 50 == 0:
            sys.stderr.write(f"  cycle {i + 1}/{cycles}: rss {samples[-1]:.1f} MB\n")
    return samples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=500)
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--cycles-many", type=int, default=10, help="cycles in the many-sources phase")
    ap.add_argument("--quick", action="store_true", help="60 cycles, 10 sources")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    if args.quick:
        args.cycles, args.sources, args.cycles_many = 60, 10, 3

    from scheduler import logs

    logs.configure("error", "json")
    rows, targets = [], []
    with tempfile.TemporaryDirectory(prefix="mw-bench-mem-") as tmp:
        site = SiteServer(1, 10)
        cfg, app = _app(Path(tmp) / "one", [site.source(0, "one")])
        t0 = time.monotonic()
        samples = run_cycles(cfg, app, args.cycles,
                             on_cycle=lambda i: site.add_article(0) if i and i % 25 == 0 else None)
        app.close()
        site.stop()
        warm = max(1, min(50, len(samples) // 5))
        after_warm = statistics.median(samples[warm:warm + 10]) if len(samples) > warm else samples[-1]
        end = statistics.median(samples[-10:])
        growth = end - after_warm
        rows.append({"system": f"1 source, {args.cycles} cycles", "rss_after_warmup_mb": after_warm,
                     "rss_end_mb": end, "growth_mb": growth, "peak_rss_mb": max(samples),
                     "s_per_cycle": (time.monotonic() - t0) / args.cycles})
        targets.append(target("RSS growth after warm-up (MB)", growth, "<=", 20))

        sites = SiteServer(args.sources, 5)
        cfg, app = _app(Path(tmp) / "many", [sites.source(i, f"src{i}") for i in range(args.sources)])
        t0 = time.monotonic()
        samples = run_cycles(cfg, app, args.cycles_many)
        app.close()
        sites.stop()
        steady = statistics.median(samples[len(samples) // 2:])
        rows.append({"system": f"{args.sources} sources, {args.cycles_many} cycles", "rss_after_warmup_mb": samples[0],
                     "rss_end_mb": samples[-1], "growth_mb": samples[-1] - samples[0], "peak_rss_mb": max(samples),
                     "steady_rss_mb": steady, "s_per_cycle": (time.monotonic() - t0) / args.cycles_many})
        targets.append(target(f"steady RSS with {args.sources} sources (MB)", steady, "<=", 300))

    print_rows("Memory (PSS of mediawatch and its extraction workers, MB; the fixture sites run in another process)", rows, [
        ("rss_after_warmup_mb", "warm MB", "{:.1f}"), ("rss_end_mb", "end MB", "{:.1f}"),
        ("growth_mb", "growth MB", "{:+.1f}"), ("peak_rss_mb", "peak MB", "{:.1f}"),
        ("s_per_cycle", "s/cycle", "{:.2f}")])
    emit(result("memory", rows, params=vars(args), targets=targets), args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
