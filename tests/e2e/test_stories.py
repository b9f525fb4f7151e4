"""Issue 16's "done when", through the real CLI over real HTTP, per backend: a wire story on two sites
(the copy's rel=canonical names the original on the other site), a near-miss (another story of the
same site, sharing its boilerplate), a page whose charset label lies, a short news brief, and a later third copy.

Every URL is its own document; the copies share a story, the near-miss does not; the rule mails once
for the story, naming both outlets, and never again for the later copy; search shows one line per
story unless --all-copies.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from tests.harness.project import fast_crawl

pytestmark = pytest.mark.timeout(300)

BOILERPLATE = ("Follow Minsk Daily on social media and subscribe to our morning newsletter for the latest news "
               "from Belarus and the region.")
WIRE = [
    "Belarusian leader Alexander Lukashenko held a meeting on Saturday with detained opposition leaders in a "
    "Minsk prison, in a move the state news agency described as an attempt at dialogue.",
    "The bizarre yet officially reported meeting saw the strongman sit down with opponents he has jailed for "
    "months during protests against his disputed August 9 election win.",
    "The state-run Belta news agency cited an official government photo showing Lukashenko sat around a table "
    "with eleven casually dressed people in a room of the KGB detention centre.",
    "The picture shows the opposition politician Viktor Babariko sat to the left of the president, a former "
    "banker who had hoped to stand against him in the election.",
    "Babariko was barred from running and was detained in July along with his son, on charges his supporters "
    "say were invented to keep him off the ballot.",
    "The opposition, however, described the visit as a sign of weakness after two months of protests that have "
    "drawn tens of thousands of people onto the streets every weekend.",
]
NEAR_MISS = [
    "Tens of thousands of people marched through Minsk on Sunday demanding the resignation of Alexander "
    "Lukashenko, despite a heavy police presence and warnings from the interior ministry.",
    "Riot police detained dozens of demonstrators near the Independence Palace, human rights groups said, "
    "as columns of marchers waved red and white flags along the avenues.",
    "The opposition leader Sviatlana Tsikhanouskaya, speaking from exile in Vilnius, called on workers to join "
    "a general strike if the president did not step down within two weeks.",
    "Factory workers at several state plants said they were considering walkouts, although previous calls for "
    "strikes had faded under pressure from managers and security services.",
]
BRIEF = ("The second metro line in Minsk will be closed between Frunzenskaya and Vostok stations from Saturday "
         "morning until Monday night while engineers replace a section of worn track, the city transport "
         "department said on Thursday. Replacement buses will run every five minutes along the route, and "
         "passengers are advised to allow an extra twenty minutes for their journeys during the works.")
LYING = "Le conseil municipal a voté jeudi un budget modeste pour la façade de l'école, déjà rénovée à moitié."


def page(title: str, paras: list[str], head: str = "", charset: str = "utf-8") -> str:
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    meta = f"<meta charset='{charset}'>" if charset else ""
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (f"<!doctype html><html lang='en'><head>{meta}<title>{title}</title>"
            f"<meta property='article:published_time' content='{now}'>{head}</head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world/'>World</a></nav><article><h1>{title}</h1>{body}</article>"
            f"<footer>Copyright Fixture Media</footer></body></html>")


def copy_of(paras: list[str]) -> list[str]:
    """How another outlet runs the wire copy: its own lead, a word changed, a paragraph cut, a line added."""
    edited = [p.replace("bizarre yet officially", "strange but officially") for p in paras]
    del edited[4]
    return ["MINSK (Reuters) - In an unusual move, the Belarusian president visited his jailed rivals.", *edited,
            "Reporting by the Minsk newsroom; editing by the world desk."]


@pytest.fixture(params=["sqlite", "elasticsearch"])
def index(request) -> dict:
    if request.param == "sqlite":
        return {}
    return {"url": request.getfixturevalue("es_url"), "prefix": f"mw-e2e-st-{uuid.uuid4().hex[:8]}"}


def config(project, smtp, index: dict, sites: dict) -> dict:
    data = project.root / "data"
    return {
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool"), **index},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(data / "alerts.sqlite3"),
                 "smtp": {"host": smtp.host, "port": smtp.port, "tls": "none", "timeout_s": 5}},
        "crawl": fast_crawl(data),
        "http": {"health_port": None},
        "sources": [site.source(name) for name, site in sites.items()],
        "rules": [{"name": "belarus", "query": "Lukashenko", "recipients": ["desk@example.org"], "mode": "instant"}],
    }


def documents(project) -> dict[str, dict]:
    result = project.run("search", "*", "--json", "--all-copies", "--limit", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    return {d["url"]: d for d in map(json.loads, result.stdout.splitlines())}


def test_copies_are_one_story_mailed_once_naming_both_outlets(project, fixture_site_factory, smtp_server, index):
    a, b = fixture_site_factory(0, seed=False), fixture_site_factory(0, seed=False)
    original = a.add_article(html=page("Lukashenko meets jailed rivals in KGB prison", [*WIRE, BOILERPLATE]))
    near_miss = a.add_article(html=page("Thousands march in Minsk against Lukashenko", [*NEAR_MISS, BOILERPLATE]))
    canonical = f"<link rel='canonical' href='{a.url(original.path)}'>"
    copy = b.add_article(html=page("Belarus strongman visits jailed opponents", copy_of(WIRE), head=canonical))
    # UTF-8 bytes under a server default that says windows-1252, and no <meta>: the text must come out exact
    lying = b.add_article(html=page("Budget municipal", [f"{LYING} ({i})" for i in range(1, 7)], charset=""))
    lying_bytes = lying.html.encode("utf-8")
    b.route(lying.path, lambda: (200, {"Content-Type": "text/html; charset=windows-1252"}, lying_bytes))
    # a short news brief (64 words), the whole article of its page
    brief = b.add_article(html=page("Minsk metro line closed", [BRIEF]))

    # Each site's crawl stays open until both sites served their copy, so the two copies are indexed
    # before either crawl's end: the mail is sent knowing both outlets.
    both_served = lambda: original.path in a.article_hits() and copy.path in b.article_hits()  # noqa: E731
    for site in (a, b):
        late = site.add_article(html="<!doctype html><html><body><p>Loading live updates…</p></body></html>")
        site.hold(late.path, both_served, then_s=3)

    project.write(config(project, smtp_server, index, {"site-a": a, "site-b": b}))
    result = project.run("crawl")
    assert result.returncode == 0, result.stderr[-3000:]

    # every URL is its own document: the copy keeps its URL and source, and credits the original
    docs = documents(project)
    a_url, near_url, b_url = a.url(original.path), a.url(near_miss.path), b.url(copy.path)
    assert set(docs) == {a_url, near_url, b_url, b.url(lying.path), b.url(brief.path)}
    assert docs[b.url(brief.path)]["text"] == BRIEF
    assert docs[b_url]["source"] == "site-b" and docs[b_url]["original_url"] == a_url
    assert docs[a_url]["source"] == "site-a" and docs[a_url]["original_url"] == ""
    # the copies share a story; the near-miss (same site, same boilerplate, same topic) does not
    assert docs[a_url]["story_id"] and docs[a_url]["story_id"] == docs[b_url]["story_id"]
    assert docs[near_url]["story_id"] not in ("", docs[a_url]["story_id"])
    assert all(d["version"] == 1 for d in docs.values())
    lying_text = docs[b.url(lying.path)]["text"]
    assert all(f"{LYING} ({i})" in lying_text for i in range(1, 7)), lying_text[:300]

    # one mail per story: the wire story's names both outlets, the near-miss has its own
    mails = smtp_server.wait_for(2, timeout=30)
    assert len(mails) == 2
    (story_mail,) = [m for m in mails if b_url in m.part("plain")]
    text = story_mail.part("plain")
    assert a_url in text and b_url in text and "Also reported by" in text
    assert "site-a" in text and "site-b" in text
    assert any(near_url in m.part("plain") and b_url not in m.part("plain") for m in mails)

    # search: one line per story, the copies counted; --all-copies lists them
    result = project.run("search", "Lukashenko")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 hit(s)" in result.stdout and "(+1 outlet)" in result.stdout
    assert "3 hit(s)" in project.run("search", "Lukashenko", "--all-copies").stdout

    # a third outlet runs the story later: one more copy, no more mail; a new process finds the story
    c = fixture_site_factory(0, seed=False)
    third = c.add_article(html=page("Lukashenko talks to jailed opposition", copy_of(WIRE)[:-1]))
    project.write(config(project, smtp_server, index, {"site-a": a, "site-b": b, "site-c": c}))
    result = project.run("crawl", "site-c")
    assert result.returncode == 0, result.stderr[-3000:]
    docs = documents(project)
    assert docs[c.url(third.path)]["story_id"] == docs[a_url]["story_id"]
    assert "(+2 outlets)" in project.run("search", "Lukashenko").stdout
    assert len(smtp_server.messages) == 2
