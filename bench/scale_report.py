"""Writes the "Scale (make bench-scale)" section of docs/PERFORMANCE.md from the JSON of
``bench.scale_index`` and ``bench.scale_sources`` (``make bench-scale`` runs all three).

``python -m bench`` rewrites the rest of that file and carries this section over as it is (it is one
of its ``KEPT_SECTIONS``), so the two runs, one long and one short, do not erase each other.

    .venv/bin/python -m bench.scale_report DIR    # DIR holds scale_index.json and/or scale_sources.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

DOC = common.REPO / "docs" / "PERFORMANCE.md"
HEADING = "## Scale (make bench-scale)"
# the next section (hand-written, kept by both reports) holds the runs before this one
INTRO = ("`bench.scale_report` writes this section from the last `make bench-scale` run; "
         "the runs before it and the work behind the figures are in the next section.")


def section_of(text: str) -> str:
    """The scale section of a PERFORMANCE.md text ('' if none): its heading up to the next '## '."""
    start = text.find(HEADING)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(HEADING))
    return text[start:] if end < 0 else text[start:end + 1]


def replace_section(text: str, section: str) -> str:
    old = section_of(text)
    if old:
        return text.replace(old, section)
    marker = "\n## How to run"
    at = text.find(marker)
    return text + "\n" + section if at < 0 else text[:at + 1] + section + text[at + 1:]


def _met(target: dict[str, Any]) -> str:
    return {True: "MET", False: "**missed**"}.get(target.get("met"), "-")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"  # a lateness of 0.01 s is not 0
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def render(index: dict[str, Any] | None, sources: dict[str, Any] | None, notes: list[str]) -> str:
    parts = [HEADING, "", INTRO, ""]
    runs = [p for p in (index, sources) if p]
    for p in [q for run in runs for q in (run, *run.get("also", []))]:
        m = p.get("machine", {})
        # a result's date and machine are taken when the script writes it, at its end
        parts.append(f"- **{p['bench']}** finished {p['date']}: {m.get('nproc')} cores ({m.get('cpu', '?')}), "
                     f"load average then {', '.join(str(x) for x in m.get('loadavg', []))}; took "
                     f"{_fmt(p['params'].get('elapsed_s'))} s; parameters "
                     + ", ".join(f"`{k}={v}`" for k, v in p["params"].items() if k != "elapsed_s"))
    parts += [*(f"- {n}" for n in notes), ""]
    targets = [t for p in runs for t in p.get("targets", [])]
    if targets:
        parts += ["| target | value | goal | met |", "|---|---|---|---|"]
        parts += [f"| {t['what']} | {_fmt(t['value'])} | {t['target']} | {_met(t)} |" for t in targets]
        parts.append("")
    if index:
        parts += ["| index | articles | ingest art/s through index() with stories (measured articles / last window) | CPU ms/article in the client process (last window) | disk/article "
                  "| query p95 warm / cold / max ms | retention: deleted, s, ingest art/s before / during / after, "
                  "longest pause s |", "|---|---|---|---|---|---|---|"]
        for r in index["rows"]:
            parts.append(
                f"| {r['system']} | {r['articles']:,} | {_fmt(r['articles_per_s'])} ({r.get('measured_articles', '?'):,}) "
                f"/ {_fmt(r['last_window_per_s'])} "
                f"| {r.get('last_window_cpu_ms_per_article') or '-'} | {r['bytes_per_article'] / 1024:.1f} KiB "
                f"| {_fmt(r['query_p95_ms'])} / {_fmt(r['query_p95_cold_ms'])} / {_fmt(r['query_max_ms'])} "
                + (f"| {r['retention_deleted']:,}, {r['retention_pass_s']}, {_fmt(r['retention_ingest_before_per_s'])} / "
                   f"{_fmt(r['retention_ingest_during_per_s'])} / {_fmt(r['retention_ingest_after_per_s'])}, "
                   f"{r['retention_longest_ingest_pause_s']} |" if "retention_deleted" in r else "| not run |"))
        parts.append("")
        systems = [r["system"] for r in index["rows"]]
        parts += ["| query (newest first, 20 hits), warm ms | " + " | ".join(systems) + " |",
                  "|---|" + "---|" * len(systems)]
        by_system = {r["system"]: {q["query"]: q for q in r["queries"]} for r in index["rows"]}
        for q in index["rows"][0]["queries"]:
            cells = []
            for s in systems:
                got = by_system[s].get(q["query"])
                cells.append(f"{got['warm_ms']:,.1f} ({got['hits']} hits)" if got else "-")
            parts.append(f"| {q['query']} | " + " | ".join(cells) + " |")
        parts.append("")
        parts += ["Ingest rate per window: " + "; ".join(
            f"{r['system']}: " + ", ".join(f"{w['at']:,}: {w['per_s']:,.0f}" for w in r["windows"])
            for r in index["rows"]), ""]
    if sources:
        r = sources["rows"][0]
        parts += [
            f"Sources: {r['sources']:,} feeds, a warm-up of {r['warmup_s']} s (measured apart) then a window of "
            f"{r['window_s']} s (run times from the {r.get('lateness_basis', 'job store')}). Window: CPU "
            f"{r['cpu_pct_window']} % of a core (warm-up {r['cpu_pct_warmup']} %), peak RSS {r['peak_rss_mb']} MB, "
            f"{r['crawls_started_window']:,} crawls started, {r.get('runs_merged_window', 0):,} runs merged into one "
            f"that began recently or waited, {r['runs_missed_window']:,} scheduled runs without a start by the end, at most {r.get('max_crawls_in_flight', '-')} crawls in flight, lateness p50 "
            f"{r['late_p50_s']} s, p95 {r['late_p95_s']} s, max {r['late_max_s']} s (whole run: p50 "
            f"{r['late_p50_s_all']} s, p95 {r['late_p95_s_all']} s)"
            + (f"; feed requests p50 {r['fetch_late_p50_s']} s, p95 {r['fetch_late_p95_s']} s after their run time, "
               f"{r['runs_unfetched_window']:,} runs without one" if "fetch_late_p95_s" in r else "")
            + ". Politeness (server log, window): "
            f"{r['requests']:,} requests to {r['hosts_seen']:,} hosts, answers {r['server_status_window']}, at most "
            f"{r['max_requests_per_host']} to one host, {r['mean_requests_per_host_per_15min']} per host per 15 "
            f"min, shortest gap on one host {r['min_gap_same_host_s']} s, at most {r['max_in_flight_per_host']} "
            f"in flight on one host; {r['articles_window']} new articles, {r['errors_window']} error lines.", ""]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="folder with scale_index*.json / scale_sources*.json")
    ap.add_argument("--note", action="append", default=[], help="a line to add under the run's parameters")
    args = ap.parse_args(argv)
    src = Path(args.dir)

    def load(name: str) -> dict[str, Any] | None:
        """The result of ``name``; several (``name*.json``, e.g. one per backend run apart) as one."""
        found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(src.glob(f"{name}*.json"))]
        if not found:
            return None
        merged = dict(found[0], also=found[1:])
        for extra in found[1:]:
            merged["rows"] = merged["rows"] + extra["rows"]
            merged["targets"] = merged["targets"] + extra["targets"]
        return merged

    section = render(load("scale_index"), load("scale_sources"), args.note)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    DOC.write_text(replace_section(text, section), encoding="utf-8")
    print(section)
    print(f"wrote the scale section of {DOC.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
