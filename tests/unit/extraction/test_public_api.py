"""We use trafilatura through its documented functions only, and change no library's state.

The documented names are those of trafilatura's "Core functions" page
(https://trafilatura.readthedocs.io/en/latest/corefunctions.html).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from ._data import FIXTURES, REPO

DOCUMENTED = {
    "trafilatura": {"extract", "bare_extraction", "baseline", "html2txt", "extract_metadata",
                    "extract_with_metadata", "fetch_url", "fetch_response", "load_html"},
    "trafilatura.external": {"try_readability", "try_justext"},
    "trafilatura.core": {"extract_comments"},
    "trafilatura.sitemaps": {"sitemap_search"},
    "trafilatura.feeds": {"find_feed_urls"},
    "trafilatura.spider": {"focused_crawler"},
    "trafilatura.utils": {"decode_file", "sanitize", "trim"},
    "trafilatura.xml": {"xmltotxt", "validate_tei"},
}


def _uses(tree: ast.AST) -> list[str]:
    """Every trafilatura name a module imports or reads, as "module.name"."""
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "trafilatura":
                    aliases[alias.asname or alias.name] = alias.name
                    if alias.name != "trafilatura":
                        found.append(alias.name)  # a submodule imported whole
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "trafilatura":
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.append(f"{aliases[node.value.id]}.{node.attr}")
    return found


def _allowed(use: str) -> bool:
    module, _, name = use.rpartition(".")
    return name in DOCUMENTED.get(module, ())


def test_only_documented_trafilatura_names_are_used():
    sources = [p for package in ("crawler", "scheduler", "indexer") for p in (REPO / package).rglob("*.py")]
    assert sources
    used = {use: path for path in sources for use in _uses(ast.parse(path.read_text("utf-8")))}
    assert "trafilatura.bare_extraction" in used  # the scan sees our real use
    assert [f"{path.relative_to(REPO)}: {use}" for use, path in used.items() if not _allowed(use)] == []


def test_the_scan_catches_internal_names():
    code = ("import trafilatura\nfrom trafilatura.core import _forum_thread_page\n"
            "from trafilatura.xpaths import BODY_XPATH\nimport trafilatura.htmlprocessing\n"
            "trafilatura.bare_extraction\ntrafilatura.settings\n")
    assert [u for u in _uses(ast.parse(code)) if not _allowed(u)] == [
        "trafilatura.core._forum_thread_page", "trafilatura.xpaths.BODY_XPATH",
        "trafilatura.htmlprocessing", "trafilatura.settings"]


# Run in a fresh process: a snapshot of the libraries' module state, then our package imported
# and a page extracted, then the snapshot again. Lists, tuples and sets are compared by content
# (the in-place rewrite of an expression list), every module attribute by identity (rebinding).
_CHILD = r"""
import importlib, json, pkgutil, sys
from lxml.etree import XPath

LIBRARIES = ("trafilatura", "htmldate", "justext", "courlan", "lxml.html", "lxml.etree")

def modules():
    out = []
    for name in LIBRARIES:
        module = importlib.import_module(name)
        out.append(module)
        for info in pkgutil.iter_modules(getattr(module, "__path__", []), name + "."):
            if info.name.endswith(("__main__", ".cli", ".cli_utils")) or "doctest" in info.name:
                continue  # entry points and doctest helpers, which act on import
            try:
                out.append(importlib.import_module(info.name))
            except Exception:  # an optional dependency missing: nothing of it to compare
                pass
    return out

def fingerprint(value):
    if isinstance(value, XPath):
        return "xpath:" + value.path
    if isinstance(value, (list, tuple)):
        return [fingerprint(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    return f"{type(value).__name__}@{id(value)}"

def snapshot():
    return {m.__name__: {k: fingerprint(v) for k, v in vars(m).items() if not k.startswith("__")}
            for m in modules()}

before = snapshot()
from crawler.extraction import extract_fields
fields = extract_fields(open(sys.argv[1], encoding="utf-8").read(), "https://example.org/a")
after = snapshot()
changed = sorted(f"{m}.{k}" for m in before for k in set(before[m]) | set(after.get(m, {}))
                 if before[m].get(k) != after.get(m, {}).get(k))
json.dump({"changed": changed, "text": fields["text"][:80]}, sys.stdout)
"""


def test_extraction_changes_no_library_module_state():
    page = FIXTURES / "pages" / "arabic-news.html"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(page)], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["text"]  # the extraction ran
    assert result["changed"] == []
