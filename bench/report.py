"""What ``python -m bench`` makes of the scripts' results: figures read from their printed
output when a script wrote no JSON, the summary and targets tables, and docs/PERFORMANCE.md.

Kept apart from ``bench/__main__.py``, which only runs the scripts, so that ``--from-json`` and
the doc can be re-rendered from saved results without running anything.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timezone
from typing import Any

from bench import common

DOC = common.REPO / "docs" / "PERFORMANCE.md"
# Issue 17's floors for the e2e daemon, each against a peer measured in the same run.
PEER_RATIO = 15.0  # x news-please's crawl of the same site
CEILING_RATIO = 2.0  # x Scrapy + trafilatura in one process (bench/ceilings.py)
CEILING_SYSTEM = "scrapy + trafilatura"


_NUM = re.compile(r"^-?\d+(?:\.\d+)?%?$")


def parse_tables(text: str) -> list[dict[str, Any]]:
    """Rows of the plain tables a script printed: a header starting with 'system', then rows whose
    last cells are numbers. The line above a table (up to its ':') names the table."""
    rows: list[dict[str, Any]] = []
    lines = text.splitlines()
    cols: list[str] | None = None
    table = ""
    for i, line in enumerate(lines):
        tokens = line.split()
        if tokens and tokens[0].lower() == "system" and len(tokens) > 1:
            cols = tokens[1:]
            above = lines[i - 1].strip() if i else ""
            table = above.split(":", 1)[0] if ":" in above else ""
            continue
        if cols is None or not tokens or set(line.strip()) <= {"-", "="}:
            if not tokens:
                cols = None
            continue
        tail = tokens[-len(cols):]
        if len(tokens) > len(cols) and all(_NUM.match(t) for t in tail):
            name = " ".join(tokens[:-len(cols)])
            row: dict[str, Any] = {"system": f"{name} ({table})" if table else name}
            for col, val in zip(cols, tail):
                key = col.lower().replace("/", "_per_").replace(" ", "_")
                row[key] = float(val.rstrip("%"))
            rows.append(row)
        else:
            cols = None
    return rows


_RATE = re.compile(r"^\s*(?P<name>[^:\n]{1,60}?):\s+(?P<val>\d[\d,]*(?:\.\d+)?)\s+(?P<unit>[A-Za-z]+)/s\b(?P<rest>.*)$")


def parse_rate_lines(text: str) -> list[dict[str, Any]]:
    """Lines like ``elasticsearch: 3,456 docs/s (median)``; the median lines when there are any."""
    found = [m for m in map(_RATE.match, text.splitlines()) if m]
    medians = [m for m in found if "median" in m.group("rest")]
    rows = []
    for m in medians or found:
        rows.append({"system": m.group("name").strip(),
                     f"{m.group('unit').lower()}_per_s": float(m.group("val").replace(",", ""))})
    return rows


# --------------------------------------------------------------------------- summarising


def rate_of(row: dict[str, Any]) -> tuple[str, float] | None:
    for key in ("articles_per_s", "pages_per_s", "docs_per_s"):
        if isinstance(row.get(key), (int, float)):
            return key, row[key]
    for key, value in row.items():
        if key.endswith("_per_s") and isinstance(value, (int, float)):
            return key, value
    return None


def fmt(value: Any, spec: str = "{:.1f}") -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return spec.format(value)
    return str(value)


def summary_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    """One line per system: bench | system | rate | CPU ms/item | peak RSS MB | F1 | other figures."""
    out = []
    for name, payload in results.items():
        rows = payload.get("rows") or []
        if not rows:
            out.append([name, payload.get("status", "not run"), "-", "-", "-", "-", payload.get("reason", "")[:120]])
            continue
        for row in rows:
            rate = rate_of(row)
            cpu = row.get("cpu_s_per_article")
            shown = {"system", "runs", "n_runs", "f1", "cpu_s_per_article", "peak_rss_mb", "precision", "recall",
                     "wall_s", "cpu_s", "scored_pages", "stored_pages", "summaries", "alerts"}
            if rate:
                shown.add(rate[0])
            other = []
            for key, value in row.items():
                if key in shown or isinstance(value, (dict, list)) or value is None:
                    continue
                if isinstance(value, float):
                    value = f"{value:.4g}"
                other.append(f"{key}={value}")
            out.append([
                name, str(row.get("system") or row.get("name") or "?"),
                f"{rate[1]:.1f} {rate[0].replace('_per_s', '/s')}" if rate else "-",
                fmt(cpu * 1000 if isinstance(cpu, (int, float)) else None, "{:.2f}"),
                fmt(row.get("peak_rss_mb"), "{:.0f}"),
                fmt(row.get("f1"), "{:.3f}"),
                ", ".join(other[:6]),
            ])
    return out


def derived_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Targets across scripts: mediawatch e2e vs the Scrapy + trafilatura ceiling and vs news-please
    (speed ratios and F1).

    The issue's ratio is against news-please crawling the site; the ratio against its library mode
    (handed every article URL, no discovery) is shown too, as the stricter comparison."""
    out = []
    e2e = (results.get("e2e") or {}).get("rows") or []
    ceiling = [r for r in (results.get("ceilings") or {}).get("rows") or [] if r.get("system") == CEILING_SYSTEM]
    if e2e and e2e[0].get("paired_ceiling_ratio"):
        # the ceiling's runs beside the e2e's (bench/e2e.py): the ratio of each pair, their median
        mine = e2e[0]
        ratio = round(mine["paired_ceiling_ratio"], 2)
        t = common.target(f"e2e articles/s ÷ {CEILING_SYSTEM}'s, run beside it", ratio, ">=", CEILING_RATIO)
        t["detail"] = (f"median of {mine.get('n_runs')} pairs; {fmt(mine['articles_per_s'])} vs "
                       f"{fmt(mine['paired_ceiling_articles_per_s'])} articles/s")
        out.append(t)
    elif e2e and ceiling and e2e[0].get("articles_per_s") and ceiling[0].get("articles_per_s"):
        mine_rate, peer_rate = e2e[0]["articles_per_s"], ceiling[0]["articles_per_s"]
        t = common.target(f"e2e articles/s ÷ {CEILING_SYSTEM}'s", round(mine_rate / peer_rate, 2), ">=", CEILING_RATIO)
        t["detail"] = f"{fmt(mine_rate)} vs {fmt(peer_rate)} articles/s"
        out.append(t)
    peer = results.get("newsplease") or {}
    prow = [r for r in peer.get("rows") or [] if r.get("articles_per_s")]
    if not (e2e and prow):
        return out
    mine = e2e[0]
    mine_rate = mine.get("articles_per_s")
    crawl = [r for r in prow if "crawl" in r["system"]]
    library = [r for r in prow if "library" in r["system"]]
    for rows, label, informational in ((crawl, "", False), (library, " (stricter: its library mode)", True)):
        if not rows:
            continue
        best = max(rows, key=lambda r: r["articles_per_s"])
        peer_rate = best["articles_per_s"]
        ratio = round(mine_rate / peer_rate, 2) if mine_rate else None
        t = common.target(f"e2e articles/s ÷ news-please's ({best['system']}){label}", ratio, ">=", PEER_RATIO)
        if informational:
            t["target"], t["met"] = "(for information)", None
        t["detail"] = f"{fmt(mine_rate)} vs {fmt(peer_rate)} articles/s"
        out.append(t)
    best_f1 = max((r for r in prow if r.get("f1") is not None), key=lambda r: r["f1"], default=None)
    if mine.get("f1") is not None and best_f1 is not None:
        f1 = common.target("e2e extraction F1 >= news-please's", mine["f1"], ">=", best_f1["f1"])
        f1["target"] = f">= {best_f1['f1']:.3f}"
        out.append(f1)
    return out


def all_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name, payload in results.items():
        for t in payload.get("targets") or []:
            out.append(dict(t, bench=name))
    for t in derived_targets(results):
        out.append(dict(t, bench="e2e vs peer"))
    return out


def table_text(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    widths[-1] = min(widths[-1], 70)
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    body = ["  ".join(c[:w].ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join([line, "-" * len(line), *body])


def table_md(headers: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


HEAD = ["bench", "system", "rate", "CPU ms/item", "peak RSS MB", "F1", "other figures"]
THEAD = ["bench", "target", "value", "goal", "met"]


def target_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    return [[t.get("bench", ""), t.get("what", ""), fmt(t.get("value"), _target_spec(t.get("value"))) +
             (f" ({t['detail']})" if t.get("detail") else ""), t.get("target", ""),
             {True: "MET", False: "NOT MET", None: "-"}[t.get("met")]] for t in targets]


def _target_spec(value: Any) -> str:
    return "{:,.0f}" if isinstance(value, (int, float)) and abs(value) >= 100 else "{:.3g}"


def es_version(results: dict[str, dict[str, Any]]) -> str:
    for payload in results.values():
        v = (payload.get("params") or {}).get("es_version")
        if v:
            return str(v)
    try:
        from tests.harness.elasticsearch import ES_VERSION

        return f"{ES_VERSION} (harness default; no bench started a node)"
    except Exception:
        return "-"


def run_dates(results: dict[str, dict[str, Any]]) -> str:
    """When the figures were measured: the span of the scripts' own timestamps."""
    stamps = sorted(datetime.fromisoformat(p["date"]) for p in results.values() if p.get("date"))
    if not stamps:
        return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    first, last = (t.astimezone(timezone.utc) for t in (stamps[0], stamps[-1]))
    return f"{first:%Y-%m-%d %H:%M}" + (f" to {last:%H:%M}" if last > first else "") + " UTC"


def write_doc(results: dict[str, dict[str, Any]], args: argparse.Namespace, machine: dict[str, Any],
              titles: dict[str, str]) -> None:
    date = run_dates(results)
    mode = "QUICK smoke run (small sizes, 1 run each): not the reference figures" if args.quick else \
        f"full run, {args.pages or 'default'} pages"
    parts = [
        "# Performance",
        "",
        "Generated by `python -m bench` (`make bench`); rewritten on every run, so edit "
        "`bench/report.py` rather than this file. Benchmarks are not tests: CI does not run them.",
        "",
        f"- **Date**: {date} ({mode})",
        f"- **Machine**: {machine.get('nproc')} cores ({machine.get('cpu', '?')}), {machine.get('ram_gb', '?')} GB RAM, "
        f"Python {machine.get('python')}, Elasticsearch {es_version(results)}"
        + (f", load average at start {', '.join(str(x) for x in machine['loadavg'])}" if machine.get("loadavg") else ""),
        f"- **Site**: {site_line(results)}",
        "",
        "## Summary",
        "",
        "Rates are medians over the runs; CPU is user+system of the measured process tree per item; "
        "peak RSS is the summed RSS of that tree (sampled every 0.2 s); F1 is the word-4-gram metric of "
        "`../shared/eval/score.py` on the stored texts. On a shared VM the CPU speed changes from minute to "
        "minute: compare the rows of one run, not figures across runs.",
        "",
        table_md(HEAD, summary_rows(results)),
        "",
        "## Targets",
        "",
        table_md(THEAD, target_rows(all_targets(results))) if all_targets(results) else "(no targets reported)",
        "",
        "## Per benchmark",
        "",
    ]
    for name, payload in results.items():
        what = titles.get(name, "")
        parts.append(f"### {name}: {what}")
        parts.append("")
        if payload.get("status") in ("not run", "failed"):
            parts.append(f"**{payload['status']}**: {payload.get('reason', '')}")
            parts.append("")
        params = payload.get("params") or {}
        if params:
            parts.append("Parameters: " + ", ".join(f"`{k}={v}`" for k, v in params.items()))
            parts.append("")
        for note in payload.get("notes") or []:
            parts.append(f"- {note}")
        if payload.get("notes"):
            parts.append("")
        if payload.get("parsed_from_text"):
            parts.append("(figures parsed from the script's printed output)")
            parts.append("")
        if payload.get("report_text"):
            parts += ["```", payload["report_text"], "```", ""]
        if payload.get("elapsed_s") is not None:
            parts.append(f"Took {payload['elapsed_s']:.0f} s.")
            parts.append("")
    parts += kept_sections()
    parts += [
        "## How to run",
        "",
        "```",
        "make bench                                   # everything, full size (machine otherwise idle!)",
        ".venv/bin/python -m bench --quick            # smoke test, small sizes",
        ".venv/bin/python -m bench.folds                # extraction per site-grouped fold, vs trafilatura",
        ".venv/bin/python -m bench.e2e --pages 3000 --runs 3",
        ".venv/bin/python -m bench.ceilings --pages 3000",
        ".venv/bin/python -m bench.discovery          # feeds, sitemaps, canonical URLs, dates (CPU per item)",
        ".venv/bin/python -m bench.newsplease --pages 3000   # its own venv in ~/.cache/mediawatch/bench",
        ".venv/bin/python -m bench.site --pages 3000 --serve  # just the local news site",
        ".venv/bin/python -m bench.importing --pages 3000 --runs 3   # mediawatch import of WARCs",
        ".venv/bin/python -m bench.scale_state       # the frontier's and the ledger's reads after months",
        "make bench-scale                             # 1,000,000 articles, 10,000 sources: about 70 min (Scale)",
        "```",
        "",
        "Raw results of the last run (JSON per script, logs): `~/.cache/mediawatch/bench/results/`.",
        "",
    ]
    DOC.write_text("\n".join(parts), encoding="utf-8")


# Sections a regenerated doc keeps: hand-written before/after records of tuning work, what the long
# `make bench-scale` run wrote (bench.scale_report), and the hand-written record of the scale runs before it.
KEPT_SECTIONS = ("## Extraction by fold", "## Measured by tests", "## Scale (make bench-scale)",
                 "## Scale: earlier runs, profiles and changes")


def kept_sections() -> list[str]:
    """The KEPT_SECTIONS of the current doc, each up to the next "## " heading."""
    if not DOC.exists():
        return []
    text = DOC.read_text(encoding="utf-8")
    out: list[str] = []
    for heading in KEPT_SECTIONS:
        start = text.find(f"\n{heading}\n")
        if start < 0:
            continue
        end = text.find("\n## ", start + len(heading) + 2)
        out += [text[start + 1:end if end >= 0 else len(text)].rstrip(), ""]
    return out


def site_line(results: dict[str, dict[str, Any]]) -> str:
    for name in ("e2e", "ceilings", "newsplease"):
        params = (results.get(name) or {}).get("params") or {}
        if params.get("pages"):
            return (f"{params['pages']} article pages (the 91 real pages of ../shared/eval/aeb-dev under many URLs), "
                    f"RSS feeds and sitemaps, served on 127.0.0.1 by {params.get('server', '?')}")
    return "-"
