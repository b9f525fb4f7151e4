"""crawler.middlewares: the SSRF guard refuses before connecting; Retry-After parsing."""

from __future__ import annotations

import asyncio
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from scrapy.http import Request
from scrapy.settings import Settings

from crawler.middlewares import RequestRefused, SSRFGuardMiddleware, parse_retry_after
from indexer.addresses import address_is_public
from crawler.sources import Source


@pytest.mark.parametrize("ip", ["10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "127.9.9.9", "169.254.169.254",
                                "0.0.0.0", "100.64.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1",
                                "::ffff:127.0.0.1", "2002:a00:1::", "64:ff9b::a00:1", "not-an-ip"])
def test_not_public(ip):
    assert not address_is_public(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public(ip):
    assert address_is_public(ip)


def guard(allow_private=False, trusted=(), allowed_networks=()):
    source = Source(name="s", feeds=["http://feeds.example/rss"], allow_private_addresses=allow_private)
    spider = SimpleNamespace(source=source, trusted_netlocs=frozenset(trusted), domain_ok=lambda url: True)
    settings = Settings({"MEDIAWATCH_ALLOWED_NETWORKS": list(allowed_networks)})
    return SSRFGuardMiddleware(SimpleNamespace(spider=spider, settings=settings))


def test_allowed_networks_let_exactly_those_through():
    mw = guard(allowed_networks=["10.1.0.0/16"])
    assert run(mw, "http://10.1.2.3/x") is None
    with pytest.raises(RequestRefused):
        run(mw, "http://10.2.0.1/x")
    with pytest.raises(RequestRefused):
        run(mw, "http://169.254.169.254/latest/meta-data/")


def run(mw, url, kind="article"):
    return asyncio.run(mw.process_request(Request(url, meta={"mw_kind": kind})))


@pytest.mark.parametrize("url", ["http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/",
                                 "http://localhost:8080/", "http://[::1]/", "http://127.0.0.2/",
                                 "http://[::ffff:169.254.169.254]/", "http://0x7f000001/"])
def test_guard_refuses_private(url):
    with pytest.raises(RequestRefused) as err:
        run(guard(), url)
    assert err.value.status in ("skipped:private_address", "error:dns")


def test_guard_allows_public_ip_literal_and_trusted_and_opt_in():
    assert run(guard(), "http://93.184.216.34/") is None  # literal: no DNS, no connection
    assert run(guard(trusted={"127.0.0.1:8000"}), "http://127.0.0.1:8000/feed") is None
    assert run(guard(allow_private=True), "http://10.0.0.1/x") is None
    with pytest.raises(RequestRefused):
        run(guard(trusted={"127.0.0.1:8000"}), "http://127.0.0.1:8001/other-port")


def test_guard_refuses_other_schemes():
    with pytest.raises(RequestRefused) as err:
        run(guard(), "file:///etc/passwd")
    assert err.value.status == "skipped:scheme"


def test_parse_retry_after():
    assert parse_retry_after(b"120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 <= parse_retry_after(format_datetime(when, usegmt=True)) <= 31
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


@pytest.mark.parametrize("head, followed", [
    (b'<meta http-equiv="refresh" content="0; url=/moved">', True),
    (b'<META HTTP-EQUIV="REFRESH" CONTENT="0; URL=/moved">', True),
    (b'<meta http-equiv="ReFresh" content="0; url=/moved">', True),
    (b"<title>Nothing to see</title>", False),
    (b"<title>R\xc3\xa9fresh</title>" + b"x" * 20000 + b'<meta http-equiv="refresh" content="0; url=/moved">', False),
])
def test_meta_refresh_is_looked_for_in_the_first_bytes_whatever_their_case(head, followed):
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.middlewares import MetaRefreshMiddleware

    mw = MetaRefreshMiddleware.from_crawler(get_crawler(settings_dict={"METAREFRESH_ENABLED": True}))
    request = Request("http://example.org/old")
    response = HtmlResponse("http://example.org/old", body=b"<html><head>" + head + b"</head><body>x</body></html>",
                            encoding="utf-8", request=request)
    out = mw.process_response(request, response)
    assert (out is not response) == followed
    if followed:
        assert out.url == "http://example.org/moved"
