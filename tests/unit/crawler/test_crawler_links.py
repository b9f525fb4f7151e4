"""crawler.discovery.links: section-page links and the allow/deny/domain rules."""

from __future__ import annotations

from crawler.discovery.links import LinkRules, extract_links, host_allowed

PAGE = """<html><head><base href="https://news.example/world/"></head><body>
<a href="story-1.html">One</a> <a href="/politics/story-2.html#top">Two</a>
<a href="story-1.html">dup</a> <a href="mailto:x@y">m</a> <a href="javascript:void(0)">j</a>
<a href="https://other.example/x">o</a> <a href="#c">frag</a> <a href="ftp://f.example/">ftp</a>
<a rel="nofollow ugc" href="https://spam.example/">comment link</a></body></html>"""


def test_extract_links():
    links = [u for u, _ in extract_links(PAGE, "https://news.example/section/")]
    assert links == ["https://news.example/world/story-1.html", "https://news.example/politics/story-2.html",
                     "https://other.example/x"]


def test_extract_links_garbage():
    assert extract_links("", "https://a.example/") == []
    assert extract_links("\x00\x01 not html", "https://a.example/") == []


def test_host_allowed():
    eps = ["https://www.news.example/feed"]
    assert host_allowed("https://m.news.example/a", [], eps)
    assert not host_allowed("https://evil.example/a", [], eps)
    assert host_allowed("https://cdn.news.example/a", ["news.example"], [])
    assert not host_allowed("https://news.example.evil.example/a", ["news.example"], [])
    assert host_allowed("http://127.0.0.1:8080/a", ["127.0.0.1:8080"], [])


def test_rules():
    rules = LinkRules.build(entry_points=["https://news.example/"], allow=[r"/\d{4}/"], deny=[r"/video/"])
    assert rules.check("https://news.example/2020/10/a.html") is None
    assert rules.check("https://news.example/video/2020/a.html") == "denied"
    assert rules.check("https://news.example/about/") == "not_allowed"
    assert rules.check("https://news.example/2020/photo.jpg") == "non_html"
    assert rules.check("https://elsewhere.example/2020/a") == "offsite"
    assert rules.check("https://news.example/about/", patterns=False) is None
