"""The articles a fixture site serves: real pages from ``../shared/eval/aeb-dev/`` (with their true
bodies), the DW seed page, and generated stories once those run out; and pages a test serves itself (a
homepage with what it names in its head, an article about one word)."""

from __future__ import annotations

import gzip
import html as htmlmod
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AEB_DIR = (ROOT / ".." / "shared" / "eval" / "aeb-dev").resolve()
SEED_HTML = ROOT / "tests" / "fixtures" / "seed" / "dw-article.html"

# Pages of a moderate size, in a fixed order (ids from ground-truth.json), so runs are repeatable.
MAX_PAGE_BYTES = 250_000


@dataclass
class FixtureArticle:
    slug: str
    title: str
    html: str
    published: datetime
    original_url: str = ""
    truth: str = ""  # the true article body (aeb ground truth), for extraction checks

    @property
    def path(self) -> str:
        return f"/news/{self.slug}.html"



def slug_for(text: str, n: int) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    return f"{n:03d}-{s or 'article'}"


def title_of(html: str) -> str:
    for pattern in (r'<meta[^>]+property=["\']og:title["\'][^>]+content=["\']([^"\']+)',
                    r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>"):
        m = re.search(pattern, html, re.I | re.S)
        if m:
            t = htmlmod.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
            if t:
                return " ".join(t.split())[:200]
    return "Untitled"


_AEB_CACHE: list[tuple[str, str, str]] | None = None


def aeb_pages() -> list[tuple[str, str, str]]:
    """[(html, original url, true body)] of the aeb-dev pages under MAX_PAGE_BYTES, in id order."""
    global _AEB_CACHE
    if _AEB_CACHE is None:
        pages: list[tuple[str, str, str]] = []
        truth = json.loads((AEB_DIR / "ground-truth.json").read_text("utf-8"))
        for pid in sorted(truth):
            path = AEB_DIR / "html" / f"{pid}.html.gz"
            if not path.exists():
                continue
            raw = gzip.decompress(path.read_bytes())
            if len(raw) > MAX_PAGE_BYTES:
                continue
            pages.append((raw.decode("utf-8", errors="replace"), truth[pid]["url"], truth[pid]["articleBody"]))
        _AEB_CACHE = pages
    return _AEB_CACHE


_VOCABULARY = (
    "council harbour bridge school budget ferry tender quay crane dredging mayor engineers contract timber "
    "concrete storm season fishermen traders tourists cargo lighthouse railway station tunnel museum library "
    "hospital clinic nurses teachers pupils farmers orchard vineyard market festival concert theatre stadium "
    "cyclists drivers tram airport runway pilots inspectors auditors court judge lawyers police volunteers "
    "river canal flood drought reservoir wind solar grid tariff loan grant subsidy pension union strike"
).split()


def story_words(seed: str, k: int = 16) -> str:
    """Words of one story only (a seeded draw), so generated stories are distinct stories, not
    near-duplicates that differ by a number."""
    rng = random.Random(seed)
    return " ".join(rng.choice(_VOCABULARY) for _ in range(k))


def generated_article(n: int) -> str:
    paras = "\n".join(
        f"<p>Paragraph {i} of fixture story {n}: the council met on Tuesday about the "
        f"{story_words(f'fixture-{n}-{i}')}, after a long debate about costs and timing.</p>"
        for i in range(8)
    )
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Fixture story {n}</title>"
            f"</head><body><article><h1>Fixture story {n}</h1>{paras}</article></body></html>")


def html_page(head: str = "", body: str = "") -> tuple[int, dict[str, str], bytes]:
    """A ``FixtureSite.route`` answer: a UTF-8 HTML page with ``head`` and ``body`` as given."""
    page = f"<!doctype html><html><head><title>Fixture News</title>{head}</head><body>{body}</body></html>"
    return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()


def word_article(title: str, word: str) -> str:
    """An article page whose every paragraph names ``word``: what a rule on that word finds."""
    paras = "".join(f"<p>Paragraph {i}: the {word} of the northern cape counted {i} ships passing in the fog, "
                    f"and wrote each one down in the log with its flag and its cargo.</p>" for i in range(8))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{htmlmod.escape(title)}</title>"
            f"</head><body><article><h1>{htmlmod.escape(title)}</h1>{paras}</article></body></html>")
