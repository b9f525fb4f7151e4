"""The web app's small safety rules: which links become links, which rule names stay in their folder,
which binds need a token."""

from __future__ import annotations

import pytest

from web.safety import BindRefused, check_bind, is_loopback, rule_path, safe_href


@pytest.mark.parametrize("url", ["https://example.org/a?b=c", "http://127.0.0.1:8080/x", " HTTPS://EXAMPLE.ORG/ "])
def test_http_links_stay_links(url):
    assert safe_href(url) == url.strip()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                                 "java\tscript:alert(1)", "java\nscript:alert(1)", "data:text/html,<script>x</script>",
                                 "vbscript:msgbox", "//evil.example/x", "", None, "file:///etc/passwd"])
def test_other_schemes_are_never_links(url):
    assert safe_href(url) is None


def test_rule_names_stay_in_the_folder(tmp_path):
    assert rule_path(tmp_path, "belarus-prisoners") == (tmp_path / "belarus-prisoners.yaml").resolve()
    for name in ("../escape", "a/b", "..", ".", "/etc/passwd", "x\x00", "", "a" * 101, "name with space"):
        with pytest.raises(ValueError):
            rule_path(tmp_path, name)


def test_binds_beyond_loopback_need_a_token():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.5"):
        assert is_loopback(host)
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(BindRefused, match="MEDIAWATCH_WEB_TOKEN"):
            check_bind(host, None)
        check_bind(host, "a-long-random-token")
