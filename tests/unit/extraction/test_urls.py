from __future__ import annotations

import pytest

from crawler.urls import canonicalize, registrable_domain, same_site


@pytest.mark.parametrize("url, base, expected", [
    ("HTTPS://WWW.Example.COM:443/a/b?utm_source=x&b=2&a=1&fbclid=z#frag", None, "https://www.example.com/a/b?a=1&b=2"),
    ("http://example.com", None, "http://example.com/"),
    ("http://example.com:80/x", None, "http://example.com/x"),
    ("http://example.com:8080/x", None, "http://example.com:8080/x"),
    ("https://ex.com/p?gclid=1&dclid=2&msclkid=3&mc_cid=4&mc_eid=5&igshid=6&_ga=7&ref_src=8&utm_medium=9",
     None, "https://ex.com/p"),
    ("https://ex.com/p?id=5&utm_campaign=x&page=2", None, "https://ex.com/p?id=5&page=2"),
    ("../c?x=1#top", "https://ex.com/a/b/", "https://ex.com/a/c?x=1"),
    ("/en/a-1", "https://www.dw.com/en/lukashenko/a-2", "https://www.dw.com/en/a-1"),
    ("https://ex.com/%7Euser/", None, "https://ex.com/~user/"),
    ("https://ex.com/search?q=a%20b", None, "https://ex.com/search?q=a+b"),
    ("mailto:a@b.c", None, "mailto:a@b.c"),
])
def test_canonicalize(url, base, expected):
    assert canonicalize(url, base) == expected


def test_canonicalize_is_idempotent():
    once = canonicalize("HTTPS://Ex.com/a%20b/?z=1&a=2&utm_source=t#x")
    assert canonicalize(once) == once


@pytest.mark.parametrize("a, b, same", [
    ("https://www.dw.com/en/x", "http://dw.com/y", True),
    ("https://m.dw.com/en/x", "https://www.dw.com/y", True),
    ("https://www.bbc.co.uk/news", "https://bbc.co.uk/sport", True),
    ("https://www.bbc.co.uk/news", "https://www.itv.co.uk/news", False),
    ("https://dw.com/x", "https://evil.com/x", False),
    ("https://dw.com.evil.com/x", "https://dw.com/x", False),
])
def test_same_site(a, b, same):
    assert same_site(a, b) is same


def test_registrable_domain():
    assert registrable_domain("https://edition.cnn.com/x") == "cnn.com"
    assert registrable_domain("http://127.0.0.1:8000/x") == "127.0.0.1"


def test_ipv6_literal_keeps_brackets():
    assert canonicalize("http://[::1]:8080/a?utm_source=x") == "http://[::1]:8080/a"
    assert canonicalize("HTTP://[FE80::1]/") == "http://[fe80::1]/"
