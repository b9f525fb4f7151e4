"""`mediawatch import` rate (articles/s) through the real CLI, on the shipped WARC
(tests/fixtures/articles.warc.gz) and on a WARC of ``--pages`` pages built from aeb-dev.

The big WARC cycles the aeb-dev pages under distinct URLs and varies every copy (its paragraphs
rotated, its title numbered), so each record is its own article, as in a crawl archive. Each run
is a fresh `mediawatch import` process into a fresh embedded SQLite index (a second import would
skip what the first marked done); the figures are medians over ``--runs`` runs:

    articles_per_s         articles / wall time of the whole command (start-up and index init included)
    import_articles_per_s  the rate the command reports itself (reading, extracting, indexing)
    cpu_s_per_article      user+system CPU of the command and its extraction workers (sampled every
                           0.2 s: the last moments of a worker are missed), per article
    cpu_bound_articles_per_s  cores / cpu_s_per_article: the rate an otherwise idle machine bounds

    .venv/bin/python -m bench.importing                   # 3,000 pages, 3 runs
    .venv/bin/python -m bench.importing --quick           # 300 pages, 1 run
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, proctree  # noqa: E402

SHIPPED = common.REPO / "tests" / "fixtures" / "articles.warc.gz"
_REPORT = re.compile(r"imported (\d+) article\(s\) from \d+ file\(s\) in ([\d.]+)s \(([\d.]+) articles/s\)")
_PARA = re.compile(r"(<p\b[^>]*>)(.*?)(</p>)", re.S | re.I)
_TICK = os.sysconf("SC_CLK_TCK")
_TITLE = re.compile(r"(<title[^>]*>)(.*?)(</title>)", re.S | re.I)


def vary(html: str, copy: int) -> str:
    """Copy 0 is the page as it is; copy k has its paragraphs rotated by k and its title numbered."""
    if copy == 0:
        return html
    paras = list(_PARA.finditer(html))
    if len(paras) > 1:
        inner = [m.group(2) for m in paras]
        k = copy % len(inner)
        inner = inner[k:] + inner[:k]
        out, last = [], 0
        for m, text in zip(paras, inner):
            out += [html[last:m.start()], m.group(1), text, m.group(3)]
            last = m.end()
        html = "".join(out) + html[last:]
    return _TITLE.sub(lambda m: f"{m.group(1)}{m.group(2)} ({copy}){m.group(3)}", html, count=1)


def build_warc(out: Path, pages: int) -> Path:
    from tests.harness.site_pages import aeb_pages
    from tests.make_warc import write_warc

    source = aeb_pages()
    records = []
    for i in range(pages):
        html, url, _truth = source[i % len(source)]
        copy = i // len(source)
        records.append((f"{url}{'&' if '?' in url else '?'}copy={copy}" if copy else url,
                        vary(html, copy).encode("utf-8")))
    return write_warc(out, records, extras=False)


class TreeCpu(proctree.TreeSampler):
    """CPU seconds (user+system) of a process tree, sampled: the extraction workers are not
    waited for by the command, so the kernel's children accounting misses them."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(root, interval)
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        for pid in proctree.process_tree(self.root):
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    raw = fh.read().decode("ascii", "replace")
            except OSError:
                continue  # ended meanwhile: its last sample stands
            fields = raw[raw.rfind(")") + 2:].split()
            self.seen[pid] = (int(fields[11]) + int(fields[12])) / _TICK

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def one_run(warc: Path, workdir: Path) -> dict[str, Any]:
    data = workdir / "data"
    config = workdir / "mediawatch.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(data), "http": {"health_port": None},
                                      "log": {"level": "warning"}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env["PYTHONPATH"] = str(common.REPO)
    argv = [sys.executable, "-m", "scheduler.cli", "--config", str(config), "import", str(warc)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with proctree.PeakRss(proc.pid, interval=0.2) as rss, TreeCpu(proc.pid) as tree:
        out, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = _REPORT.search(out)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"mediawatch import exited {proc.returncode}: {(out + err)[-2000:]}")
    articles = int(match.group(1))
    # The command itself, exactly, once waited for; its workers as last sampled.
    command = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = command + sum(v for pid, v in tree.seen.items() if pid != proc.pid)
    row = proctree.figures(articles, wall, cpu, rss.peak_mb)
    row["import_s"] = float(match.group(2))
    row["import_articles_per_s"] = float(match.group(3))
    return row


def measure(name: str, warc: Path, runs: int) -> dict[str, Any]:
    results = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="mwbench-import-") as tmp:
            row = one_run(warc, Path(tmp))
        print(f"  {name} run {i + 1}: {row['articles']} articles, {row['articles_per_s']} articles/s "
              f"(import phase {row['import_articles_per_s']} articles/s)", flush=True)
        results.append(row)
    row = common.combine_runs(name, results, warc_mb=round(warc.stat().st_size / 2**20, 2))
    if row.get("cpu_s_per_article"):
        # What the cores could do if nothing else ran: the shared machine's wall rate varies with its load.
        row["cpu_bound_articles_per_s"] = round((os.cpu_count() or 1) / row["cpu_s_per_article"], 1)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=3000, help="pages of the built WARC (default 3000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per WARC; figures are medians (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 300 pages, 1 run")
    ap.add_argument("--json", dest="json_out", help="also write the result JSON here")
    args = ap.parse_args(argv)
    common.apply_quick(args)
    common.exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="mwbench-warc-") as tmp:
        built = build_warc(Path(tmp) / f"aeb-{args.pages}.warc.gz", args.pages)
        rows = [measure(f"shipped WARC ({SHIPPED.name})", SHIPPED, args.runs),
                measure(f"built WARC ({args.pages} aeb-dev pages)", built, args.runs)]
    columns = [("articles", "articles", "{:d}"), ("articles_per_s", "art/s", "{:.1f}"),
               ("import_articles_per_s", "import art/s", "{:.1f}"), ("cpu_s_per_article", "cpu s/art", "{:.4f}"),
               ("cpu_bound_articles_per_s", "cpu-bound/s", "{:.0f}"),
               ("peak_rss_mb", "peak MB", "{:.0f}")]
    common.print_rows(f"mediawatch import, embedded SQLite index, median of {args.runs} run(s):", rows, columns)
    payload = common.result("importing", rows, params={"pages": args.pages, "runs": args.runs, "backend": "sqlite",
                                                       "extraction": "process pool, 2 workers (the defaults)"},
                            notes=["articles_per_s: articles / wall time of the whole `mediawatch import` command, "
                                   "start-up included; import_articles_per_s: the rate the command reports for "
                                   "its import phase",
                                   "the built WARC cycles the aeb-dev pages under distinct URLs, each copy with "
                                   "its paragraphs rotated and its title numbered"])
    common.emit(payload, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
