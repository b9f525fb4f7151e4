"""A rule's ``notify`` channels: validated like the rest of a rule, secrets from the environment, never
shown in clear; the channel message's content."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from indexer.alerts.channels import DigestStory, channel_id, delivery_id, digest_message, display, story_message
from indexer.alerts.matching import highlight_terms
from indexer.alerts.rules import Rule, RuleError, load_rules_file
from indexer.article import Article
from scheduler.config import ConfigError, effective, load


@pytest.mark.parametrize(
    ("urls", "key", "fragment"),
    [
        (["json://hooks.example.org/x", "hooks.example.org/y"], "notify[1]", "expected scheme://"),
        (["nosuchservice://x/y"], "notify[0]", "unknown channel scheme 'nosuchservice://'"),
        (["tgram://"], "notify[0]", "Apprise cannot use this tgram:// URL"),
    ],
)
def test_a_bad_channel_url_names_the_file_and_the_key(tmp_path, urls, key, fragment):
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nquery: x\nnotify:\n" + "".join(f"  - '{u}'\n" for u in urls))
    with pytest.raises(RuleError) as info:
        load_rules_file(path)
    assert info.value.key == key and fragment in str(info.value) and str(info.value).startswith(f"{path}: {key}: ")


def test_digest_rules_take_channels_too(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nquery: x\nmode: daily\nnotify: ['json://hooks.example.org/x']\n")
    (rule,) = load_rules_file(path)
    assert rule.mode == "daily" and rule.notify == ["json://hooks.example.org/x"]


def test_a_rule_file_reads_secrets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MW_HOOK_TOKEN", "s3cr3t-t0ken")
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nquery: x\nnotify: ['mmost://chat.example.org/${MW_HOOK_TOKEN}']\n")
    (rule,) = load_rules_file(path)
    assert rule.notify == ["mmost://chat.example.org/s3cr3t-t0ken"]
    assert "s3cr3t" not in str(rule.model_dump())  # config check, logs: masked
    monkeypatch.delenv("MW_HOOK_TOKEN")
    with pytest.raises(RuleError, match=r"notify\[0\]: environment variable \$\{MW_HOOK_TOKEN\} is not set"):
        load_rules_file(path)


def test_the_config_file_resolves_and_masks_them_too(tmp_path):
    path = tmp_path / "mediawatch.yaml"
    path.write_text("rules:\n  - name: r\n    query: x\n    notify: ['json://mw:${HOOK_PASSWORD}@hooks.example.org/in']\n"
                    "  - name: bad\n    query: x\n    notify: ['json://']\n")
    with pytest.raises(ConfigError) as info:
        load(path, env={"HOOK_PASSWORD": "hunter2"})
    assert info.value.key == "rules[1].notify[0]"
    path.write_text(path.read_text().split("  - name: bad")[0])
    cfg = load(path, env={"HOOK_PASSWORD": "hunter2"})
    assert cfg.rules[0].notify == ["json://mw:hunter2@hooks.example.org/in"]
    shown = str(effective(cfg))
    assert "hunter2" not in shown and "json://mw:****@hooks.example.org/…" in shown


def test_ids_and_display_keep_secrets_out():
    url = "json://mw:hunter2@hooks.example.org/in"
    assert channel_id(url) == channel_id(url) != channel_id(url + "2") and "hunter2" not in channel_id(url)
    assert display(url) == "json://mw:****@hooks.example.org/…"  # a generic webhook's path may be its token
    assert display("json://127.0.0.1:9522/hooks/T0K3N") == "json://127.0.0.1:9522/…"
    assert display("json://127.0.0.1:9522") == "json://127.0.0.1:9522/"
    assert delivery_id("r", "a1", channel_id(url)) != delivery_id("r", "a2", channel_id(url))


def test_story_message_has_title_outlet_date_snippet_link_and_outlets():
    a = Article(url="https://www.dw.com/en/a-1", title="Lukashenko\njails\x00 rivals", source="dw",
                text="Minsk. Alexander Lukashenko met jailed rivals in a KGB prison.",
                published_at=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))
    msg = story_message("belarus", a, highlight_terms("Lukashenko AND prison"), outlets=["dw", "bbc", "dw"])
    assert msg.title == "belarus: Lukashenko jails rivals"  # one line, no control characters
    lines = msg.body.splitlines()
    assert lines[0] == "dw · 2024-05-01 12:00 UTC" and lines[1] == "Outlets: dw, bbc"
    assert "*Lukashenko* met jailed rivals in a KGB *prison*" in msg.body
    assert "https://www.dw.com/en/a-1" in lines and lines[-1] == "mediawatch rule belarus"
    unsafe = Article(url="javascript:alert(1)", title="t", text="x", source="")
    assert "javascript:" not in story_message("r", unsafe, highlight_terms("x")).body


def test_text_from_the_web_pings_nobody_in_a_chat_room_and_hides_no_link():
    """@everyone (Discord), @channel/@all/@here (Mattermost, Rocket.Chat), @room (Matrix), <@id> (Discord)
    and Markdown links and images in a headline, an outlet or the snippet: kept as they read, with a word
    joiner that stops the ping or the link."""
    a = Article(url="https://ex.org/a@here", title="Live: @Everyone asks <@1234> about the @channel move",
                source="@room news",
                text="Minsk. Readers wrote to @all and @here about Lukashenko; mail me@here.org. "
                     "Lukashenko [said](https://phish.example) so ![](https://track.example/p.png).",
                published_at=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))
    digest = digest_message("belarus", [DigestStory(a, highlight_terms("Lukashenko"), ["@here", "dw"])], "hourly",
                            datetime(2024, 5, 1, 13, 0, tzinfo=timezone.utc))
    for msg in (story_message("belarus", a, highlight_terms("Lukashenko"), outlets=["@everyone", "dw"]), digest):
        text = msg.title + "\n" + msg.body
        assert not re.search(r"@(everyone|here|channel|all|room)\b|<@|\]\(", text, re.IGNORECASE), text
        assert "[said]\u2060(https://phish.example) so ![]\u2060(https" in text.replace("*", "")
        assert "@\u2060Everyone asks <\u2060@1234> about the @\u2060channel move" in text
        assert "@\u2060all and @\u2060here" in text.replace("*", "")
        assert "https://ex.org/a%40here" in text  # the same page to its server
    for url, sent in (("https://ex.org?who=@channel", "https://ex.org?who=%40channel"),
                      ("https://all@here.example/p/@all#@room", "https://all@here.example/p/%40all#%40room")):
        assert sent in story_message("r", Article(url=url, title="t", text="x"), highlight_terms("x")).body
    plain = story_message("r", Article(url="https://ex.org/b", title="Mail to desk@example.org", text="x"),
                          highlight_terms("x"))
    assert "Mail to desk@example.org" in plain.title  # an address that is no mention stays as it is


def test_a_rule_without_channels_is_unchanged():
    assert Rule(name="r", query="x").notify == []
