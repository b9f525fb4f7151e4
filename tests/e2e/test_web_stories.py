"""Copies of a story in the web app (`mediawatch web` over HTTP): one search hit with "+N outlet(s)", and the
article page lists the story's other outlets."""

from __future__ import annotations

import re
import signal
import urllib.request
from datetime import datetime, timezone

from indexer.article import Article
from indexer.backends.sqlite import SqliteBackend
from tests.e2e.daemon_log import listening_url

TEXT = " ".join(f"The harbour council met on day {i} and agreed the budget for the bridge and the school."
                for i in range(30))


def test_copies_fold_into_one_hit_and_the_article_lists_the_others(project):
    data = project.root / "data"
    backend = SqliteBackend(data / "index.sqlite3")
    copies = [Article(url=f"https://{s}.example/bridge", title=f"Bridge budget agreed ({s})", text=TEXT, source=s,
                      language="en", published_at=datetime(2026, 3, 1, tzinfo=timezone.utc))
              for s in ("one", "two", "three")]
    backend.init()
    assert len(backend.index(copies).indexed) == 3
    assert len({backend.get(a.id).story_id for a in copies}) == 1  # the indexer made them one story
    backend.close()
    project.write({"data_dir": str(data), "index": {"sqlite_path": str(data / "index.sqlite3")},
                   "crawl": {"state_path": str(data / "crawl.sqlite3")}})
    proc = project.popen("web", "--port", "0")
    try:
        base = listening_url(proc, "web_listening", 60).rstrip("/")
        page = urllib.request.urlopen(base + "/?q=bridge", timeout=10).read().decode()
        assert page.count('class="hit"') == 1 and "+2 outlet(s)" in page
        shown = re.search(r'href="/article/([0-9a-f]+)"', page).group(1)
        article = urllib.request.urlopen(f"{base}/article/{shown}", timeout=10).read().decode()
        others = article.split('id="others"', 1)[1]
        listed = set(re.findall(r'href="/article/([0-9a-f]+)"', others))
        assert listed == {a.id for a in copies} - {shown}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
