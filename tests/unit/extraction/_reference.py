"""Answers of an unpatched trafilatura, computed in a separate process.

The child process imports trafilatura and nothing of ours, so whatever our package does at
import or run time cannot reach the reference it is compared with.
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import json, sys
import trafilatura
from lxml import etree

out = []
for job in json.load(sys.stdin):
    html, url, op = job["html"], job["url"], job["op"]
    if op == "load_html":
        tree = trafilatura.load_html(html)
        out.append(None if tree is None else etree.tostring(tree).decode("utf-8", "surrogateescape"))
        continue
    if op == "author":
        out.append(trafilatura.extract_metadata(html, default_url=url or None, extensive=False).author)
        continue
    doc = trafilatura.bare_extraction(html, url=url or None, fast=op != "rescue", favor_precision=op == "precision",
                                      favor_recall=op == "recall", include_comments=False, with_metadata=False)
    out.append((doc.text or "") if doc is not None else "")
json.dump(out, sys.stdout)
"""


def reference(jobs: list[tuple[str, str, str]], timeout: float = 300) -> list:
    """For each (op, html, url): trafilatura's answer. ``op`` is "load_html" (the tree, serialized),
    "precision"/"recall" (``bare_extraction``'s text in that mode, fast, no comments), "rescue"
    (its default mode, not fast: with the readability/justext comparison, no comments) or "author"
    (``extract_metadata``'s author, "; "-separated)."""
    payload = json.dumps([{"op": op, "html": html, "url": url} for op, html, url in jobs])
    # -I: no current directory or user site on the path, so only the installed packages load
    done = subprocess.run([sys.executable, "-I", "-c", _CHILD], input=payload, capture_output=True,
                          text=True, timeout=timeout, check=True)
    return json.loads(done.stdout)
