"""``python -m bench`` (``make bench``): run every benchmark, print ONE summary, rewrite docs/PERFORMANCE.md.

Each script runs in its own process, one after the other (never two at once: they would share
the 2 cores). A script's figures come from ``--json OUT`` when its ``--help`` offers it, else
from the last JSON line it prints, else from the tables it prints (``system  F1  P ...``);
a script that fails or is missing is reported as "not run" with the reason.

    python -m bench                      # full run (3,000 pages; takes a while)
    python -m bench --quick              # smoke: small sizes, 1 run each
    python -m bench --only e2e --only newsplease --pages 3000
    python -m bench --no-docs            # print only, leave docs/PERFORMANCE.md alone
    python -m bench --from-json DIR      # re-render the summary/docs from saved results
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import common
from bench.report import DOC, HEAD, THEAD, all_targets, es_version, parse_rate_lines, parse_tables, \
    summary_rows, table_text, target_rows, write_doc

# name -> (what it measures, flags for a quick run, flags for a full run). Flags a script's
# --help does not list are dropped, so colleagues' scripts need not accept all of them.
SCRIPTS: dict[str, tuple[str, list[str], list[str]]] = {
    "extraction": ("Extraction quality and speed on the dev sets", ["--quick"], []),
    "folds": ("Extraction by fold: the dev sets split by site, vs trafilatura", ["--quick"], []),
    "ceilings": ("Scrapy ceilings on the local site", ["--quick"], []),
    "newsplease": ("Peer: news-please on the same site", ["--quick"], []),
    "e2e": ("mediawatch end to end into Elasticsearch, alerts on", ["--quick"], []),
    "web": ("Web app: search page with chart, rule preview (SQLite)", ["--quick"], []),
    "indexing": ("Bulk indexing throughput", ["--quick", "--start-node", "--docs", "1000", "--runs", "1"],
                 ["--start-node"]),
    "alerting": ("Alert matching and latency", ["--quick", "--rules", "1000", "--articles", "300", "--runs", "1"], []),
    "memory": ("Daemon memory over many crawl cycles", ["--quick"], []),
    "discovery": ("Discovery: feeds, sitemaps, canonical URLs, dates", ["--quick"], []),
    "importing": ("`mediawatch import` of WARC files through the CLI", ["--quick"], []),
}
SITE_SCRIPTS = {"ceilings", "newsplease", "e2e", "importing"}  # take --pages


# --------------------------------------------------------------------------- running


def script_help(name: str) -> str | None:
    """The script's --help text, or None if there is no such script."""
    if not (common.REPO / "bench" / f"{name}.py").exists():
        return None
    out = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=common.REPO,
                         capture_output=True, text=True, timeout=120)
    return out.stdout + out.stderr


def supported(flags: list[str], help_text: str) -> list[str]:
    """Keep the flags (with their values) that appear in the help text."""
    kept, i = [], 0
    while i < len(flags):
        flag = flags[i]
        value = flags[i + 1] if i + 1 < len(flags) and not flags[i + 1].startswith("--") else None
        if re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text):
            kept.append(flag)
            if value is not None:
                kept.append(value)
        i += 2 if value is not None else 1
    return kept


def run_script(name: str, flags: list[str], out_dir: Path, timeout: float) -> dict[str, Any]:
    """Run bench.<name>; -> its result payload (or a 'not run' stub with the reason)."""
    help_text = script_help(name)
    if help_text is None:
        return {"bench": name, "status": "not run", "reason": "no such script", "rows": []}
    json_path = out_dir / f"{name}.json"
    argv = [sys.executable, "-m", f"bench.{name}", *supported(flags, help_text)]
    if re.search(r"(?<![\w-])--json(?![\w-])", help_text):
        argv += ["--json", str(json_path)]
    log_path = out_dir / f"{name}.log"
    print(f"\n=== bench.{name}: {' '.join(argv[3:]) or '(defaults)'}", flush=True)
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.run(argv, cwd=common.REPO, stdout=subprocess.PIPE, stderr=log, timeout=timeout)
            stdout = proc.stdout.decode("utf-8", "replace")
            code = proc.returncode
        except subprocess.TimeoutExpired as err:
            stdout = (err.stdout or b"").decode("utf-8", "replace")
            code = "timeout"
    elapsed = time.perf_counter() - t0
    (out_dir / f"{name}.out").write_text(stdout, encoding="utf-8")
    for line in stdout.splitlines():  # the script's own report, minus its JSON line
        if not line.startswith("{"):
            print(f"  {line}")
    payload = None
    if json_path.exists():
        try:
            payload = json.loads(json_path.read_text(encoding="utf-8"))
        except ValueError:
            payload = None
    payload = payload or common.last_json_line(stdout)
    if payload is None:
        rows = parse_tables(stdout) or parse_rate_lines(stdout)
        payload = {"bench": name, "rows": rows, "parsed_from_text": True} if rows else None
    if code != 0 or payload is None:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-8:]) if log_path.exists() else ""
        reason = f"exit {code}" + ("" if payload else ", no figures") + (f": {tail.splitlines()[-1]}" if tail else "")
        stub = payload or {"bench": name, "rows": []}
        stub.update(status="not run" if payload is None else "failed", reason=reason[:300])
        payload = stub
    payload.setdefault("bench", name)
    payload["elapsed_s"] = round(elapsed, 1)
    report = [ln.rstrip() for ln in stdout.splitlines() if not ln.startswith("{")]
    while report and not report[0].strip():
        report.pop(0)
    payload["report_text"] = "\n".join(report[-60:])
    json_path.write_text(json.dumps(payload, default=str), encoding="utf-8")
    print(f"=== bench.{name}: {payload.get('status', 'ok')} in {elapsed:.0f}s", flush=True)
    return payload


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, 1 run each")
    ap.add_argument("--pages", type=int, help="article pages of the local site (default: each script's, 3000)")
    ap.add_argument("--runs", type=int, help="runs per measurement (default: each script's)")
    ap.add_argument("--only", action="append", choices=sorted(SCRIPTS), help="run just these (repeatable)")
    ap.add_argument("--skip", action="append", choices=sorted(SCRIPTS), default=[], help="skip these")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/PERFORMANCE.md")
    ap.add_argument("--timeout", type=float, default=3 * 3600, help="seconds per script (default 3 h)")
    ap.add_argument("--out", help="where the per-script JSON and logs go (default ~/.cache/mediawatch/bench/results/DATE)")
    ap.add_argument("--from-json", metavar="DIR", help="summarise saved results instead of running")
    args = ap.parse_args(argv)
    common.exit_on_sigterm()
    machine = common.machine_info()

    names = [n for n in (args.only or list(SCRIPTS)) if n not in args.skip]
    results: dict[str, dict[str, Any]] = {}
    if args.from_json:
        src = Path(args.from_json)
        for name in names:
            path = src / f"{name}.json"
            if path.exists():
                results[name] = json.loads(path.read_text(encoding="utf-8"))
        saved = [p["machine"] for p in sorted(results.values(), key=lambda p: p.get("date", "")) if p.get("machine")]
        if saved:  # the machine of the saved run; its load at start was not saved
            machine = {k: v for k, v in saved[0].items() if k != "loadavg"}
    else:
        out_dir = Path(args.out) if args.out else common.RESULTS_DIR / datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"bench: {', '.join(names)}; results and logs in {out_dir}", flush=True)
        if machine.get("loadavg") and machine["loadavg"][0] > 0.5 * (machine.get("nproc") or 1):
            print(f"warning: load average {machine['loadavg'][0]} at start: the machine is busy, "
                  "figures will be low", flush=True)
        for name in names:
            _what, quick_flags, full_flags = SCRIPTS[name]
            flags = list(quick_flags if args.quick else full_flags)
            if name in SITE_SCRIPTS and args.pages:
                flags += ["--pages", str(args.pages)]
            if args.runs and "--runs" not in flags:
                flags += ["--runs", str(args.runs)]
            results[name] = run_script(name, flags, out_dir, args.timeout)

    print("\n" + "=" * 100)
    print(f"SUMMARY  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  {machine.get('nproc')} cores "
          f"{machine.get('cpu', '')}, {machine.get('ram_gb')} GB, Python {machine.get('python')}, "
          f"Elasticsearch {es_version(results)}" + ("  [QUICK]" if args.quick else ""))
    print("=" * 100)
    print(table_text(HEAD, summary_rows(results)))
    targets = all_targets(results)
    if targets:
        print()
        print(table_text(THEAD, target_rows(targets)))
    if not args.no_docs:
        write_doc(results, args, machine, {name: what for name, (what, _q, _f) in SCRIPTS.items()})
        print(f"\nwrote {DOC.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
