"""Mail rendering: highlighted snippets, escaping, header hygiene, outbox files."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest

from hypothesis import given, settings, strategies as st

from indexer.alerts.mailer import Mailer, OutboxSender, eml_name, envelope
from indexer.alerts.render import (
    DigestEntry, Envelope, boundary_for, clean_header, compose, digest_message, instant_message, safe_link,
)
from indexer.article import Article
from indexer.config import MailConfig
from indexer.query import Terms, clean_text, highlight

ENV = Envelope("alerts@mediawatch.example", "mediawatch")
TERMS = Terms(words=frozenset({"lukashenko", "prison"}), prefixes=("jail",), phrases=(("political", "prisoners"),))


def article(**kw) -> Article:
    base = dict(
        url="https://www.dw.com/en/lukashenko/a-55223466",
        title="Lukashenko holds talks with jailed rivals",
        text=("Belarusian leader Alexander Lukashenko met opposition figures in a KGB prison in Minsk. "
              "The jailed critics include political prisoners. ") * 3,
        source="dw",
        published_at=datetime(2020, 10, 10, 14, 3, tzinfo=timezone.utc),
    )
    base.update(kw)
    return Article(**base)


def parse(msg) -> email.message.EmailMessage:
    """What a reader gets from the bytes we send or write to the outbox."""
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def test_highlight_is_case_and_accent_insensitive():
    s = highlight("CAFÉ in Łódź", Terms(words=frozenset({"cafe", "lodz"})))
    assert s.html == "<mark>CAFÉ</mark> in <mark>Łódź</mark>"


def test_highlight_marks_words_prefixes_and_phrases():
    s = highlight("Lukashenko visits a jail; jailed men are political prisoners, not prisoners of war.", TERMS)
    assert s.matched
    assert "<mark>Lukashenko</mark>" in s.html and "<mark>jail</mark>" in s.html and "<mark>jailed</mark>" in s.html
    assert "<mark>political</mark> <mark>prisoners</mark>" in s.html
    assert "not prisoners of war" in s.html  # 'prisoners' alone is not a term here
    assert "*Lukashenko*" in s.text


def test_highlight_window_around_first_match_and_escaping():
    text = " ".join(f"w{i}" for i in range(200)) + " <b>Lukashenko</b> & co " + " ".join(f"x{i}" for i in range(200))
    s = highlight(text, TERMS, max_words=20, before=5)
    assert s.text.startswith("… ") and s.text.endswith(" …")
    assert "&lt;b&gt;<mark>Lukashenko</mark>&lt;/b&gt; &amp; co" in s.html
    assert "<b>" not in s.html
    assert len(s.text.split()) <= 24


def test_clean_header_strips_every_line_break():
    value = "a\r\nBcc: victim@example.org\rb\nc\u2028d\x00e\x85f"
    cleaned = clean_header(value)
    assert "\r" not in cleaned and "\n" not in cleaned and "\u2028" not in cleaned and "\x00" not in cleaned
    assert cleaned.startswith("a Bcc: victim@example.org b c d e f")


def test_safe_link_only_http():
    assert safe_link("javascript:alert(1)") == ""
    assert safe_link("https://x.example/a?b=1") == "https://x.example/a?b=1"
    assert safe_link("data:text/html,<script>") == ""


def test_instant_message_structure():
    msg = parse(instant_message(ENV, "belarus", "Lukashenko AND jail*", ["a@example.org", "b@example.org"],
                                article(), TERMS, "<mw.abc@mediawatch.example>"))
    assert msg.is_multipart() and msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Message-ID"] == "<mw.abc@mediawatch.example>"
    assert msg["To"] == "a@example.org, b@example.org"
    assert msg["Subject"] == "[mediawatch] belarus: Lukashenko holds talks with jailed rivals"
    assert msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "https://www.dw.com/en/lukashenko/a-55223466" in part
        assert "2020-10-10 14:03" in part and "dw" in part
    assert "<mark>Lukashenko</mark>" in html and "*Lukashenko*" in text
    assert '<a href="https://www.dw.com/en/lukashenko/a-55223466">' in html


HOSTILE = ("Breaking\r\nBcc: everyone@example.org\r\nX-Injected: yes\n\n<script>alert('x')</script>"
           " <img src=x onerror=alert(1)> & \"quotes\"")


def test_hostile_title_cannot_inject_headers_or_markup():
    a = article(title=HOSTILE, text="Lukashenko <script>steal()</script> <iframe src=//evil>",
                url="javascript:alert(1)", source="evil\r\nBcc: x@example.org")
    raw = instant_message(ENV, "r", "Lukashenko", ["a@example.org"], a, TERMS, "<mw.1@x>").as_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert msg.get_all("Subject") and len(msg.get_all("Subject")) == 1
    assert "Bcc: everyone" in msg["Subject"]  # neutralised into the subject text, on one line
    headers = raw.split(b"\r\n\r\n", 1)[0]
    for line in headers.split(b"\r\n"):
        assert not line.lower().startswith((b"bcc:", b"x-injected:"))
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html.split("<hr>")[0].split("href=")[1][:30]
    assert 'href="#"' in html


def test_a_header_value_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="linefeed"):
        compose([("Subject", "a\r\nBcc: x@example.org")], "text", "<p>html</p>")
    with pytest.raises(ValueError):
        compose([("X-Test", "=?a\nb")], "text", "<p>html</p>")


def test_a_story_mail_names_the_other_outlets_and_escapes_them():
    others = [article(url="https://www.rferl.org/a/lukashenko-kgb-jail/30888.html", source="rferl"),
              article(url="javascript:alert(1)", source="<b>evil</b>")]
    msg = parse(instant_message(ENV, "belarus", "Lukashenko", ["a@example.org"], article(story_id="s-1"), TERMS,
                                "<mw.abc@x>", others=others))
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    assert "Also reported by:\n   - rferl: https://www.rferl.org/a/lukashenko-kgb-jail/30888.html" in text
    assert '<a href="https://www.rferl.org/a/lukashenko-kgb-jail/30888.html">rferl</a>' in html
    assert "&lt;b&gt;evil&lt;/b&gt;" in html and "javascript:" not in html
    assert msg["X-Mediawatch-Story"] == "s-1"
    alone = parse(instant_message(ENV, "belarus", "Lukashenko", ["a@example.org"], article(), TERMS, "<mw.b@x>"))
    assert "Also reported by" not in alone.get_body(("plain",)).get_content()


def test_a_digest_entry_is_one_story_with_its_outlets():
    entry = DigestEntry(article(), TERMS, others=[article(url="https://apnews.com/x", source="ap")])
    msg = parse(digest_message(ENV, "belarus", "Lukashenko", ["a@example.org"], [entry], "<mw-digest.2@x>",
                               "daily", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)))
    assert "1 new article " in msg["Subject"]
    assert "Also reported by:\n   - ap: https://apnews.com/x" in msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_digest_message_lists_entries_in_given_order():
    entries = [DigestEntry(article(title=f"Lukashenko story {i}", url=f"https://x.example/{i}"), TERMS) for i in (3, 2, 1)]
    msg = parse(digest_message(ENV, "belarus", "Lukashenko", ["a@example.org"], entries, "<mw-digest.1@x>",
                               "hourly", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)))
    text = msg.get_body(("plain",)).get_content()
    assert text.index("story 3") < text.index("story 2") < text.index("story 1")
    assert "3 new articles" in msg["Subject"] and "hourly digest" in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    assert html.count("<li") == 3


def test_outbox_writes_parseable_eml_atomically(tmp_path):
    mailer = Mailer(MailConfig(outbox=str(tmp_path / "outbox")))
    assert mailer.mode == "outbox"
    msg = instant_message(ENV, "r", "Lukashenko", ["a@example.org"], article(title=HOSTILE), TERMS, "<mw.abc/..x@ex>")
    mailer.send(msg)
    mailer.send(msg)  # a replay overwrites the same file
    files = list((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == [eml_name("<mw.abc/..x@ex>")] and "/" not in files[0].name[:-4]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<mw.abc/..x@ex>" and parsed["Bcc"] is None
    assert parsed.get_body(("html",)) is not None


def test_outbox_files_appear_only_when_committed(tmp_path):
    sender = OutboxSender(tmp_path / "outbox")
    for i in range(3):
        sender.send(instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, f"<m{i}@x>"))
    assert not list((tmp_path / "outbox").glob("m*.eml"))  # staged, not yet in place
    sender.commit()
    assert sorted(f.name for f in (tmp_path / "outbox").iterdir()) == ["m0@x.eml", "m1@x.eml", "m2@x.eml"]
    sender.send(instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, "<m3@x>"))
    sender.close()  # never committed: the alert stays pending, and no file or temp file is left
    assert sorted(f.name for f in (tmp_path / "outbox").iterdir()) == ["m0@x.eml", "m1@x.eml", "m2@x.eml"]


def test_outbox_a_mail_staged_again_or_left_by_a_crash_is_written_once(tmp_path):
    outbox = tmp_path / "outbox"
    crashed = OutboxSender(outbox)
    crashed.send(instant_message(ENV, "r", "q", ["a@example.org"], article(title="Old"), TERMS, "<m@x>"))
    sender = OutboxSender(outbox)  # the crashed sender never committed nor closed: its temp file is left
    sender.send(instant_message(ENV, "r", "q", ["a@example.org"], article(title="First"), TERMS, "<m@x>"))
    sender.send(instant_message(ENV, "r", "q", ["a@example.org"], article(title="Second"), TERMS, "<m@x>"))
    sender.commit()
    assert [f.name for f in outbox.iterdir()] == ["m@x.eml"]
    parsed = email.message_from_bytes((outbox / "m@x.eml").read_bytes(), policy=email.policy.default)
    assert parsed["Subject"].endswith("Second")


def test_a_mail_that_failed_half_written_is_never_committed(tmp_path):
    import resource
    import signal

    from indexer.alerts.mailer import SendError

    sender = OutboxSender(tmp_path / "outbox")
    sender.send(instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, "<ok@x>"))
    big = instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, "<big@x>")
    assert len(big.as_bytes()) > 2048
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so write() fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, limits[1]))
    try:
        with pytest.raises(SendError):
            sender.send(big)  # the file-size limit cuts the write short, like a full disk
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    sender.commit()
    assert sorted(f.name for f in (tmp_path / "outbox").iterdir()) == ["ok@x.eml"]


def test_outbox_failure_is_a_send_error(tmp_path):
    from indexer.alerts.mailer import SendError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SendError):
        OutboxSender(blocker / "sub").send(instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, "<m@x>"))


def test_headers_fold_within_78_columns_and_read_back_exactly():
    long_title = "Lukashenko " + " ".join(f"word{i}" for i in range(20))
    first = instant_message(ENV, "belarus", "Lukashenko", ["a@example.org"], article(title=long_title), TERMS, "<m1@x>")
    second = instant_message(ENV, "minsk", "Lukashenko", ["b@example.org", "c@example.org"], article(), TERMS, "<m2@x>")
    cyrillic = "Лукашенко встретился с заключёнными оппонентами в тюрьме КГБ в Минске, сообщает агентство"
    third = instant_message(ENV, "беларусь", "Lukashenko", ["a@example.org"], article(title=cyrillic), TERMS, "<m3@x>")
    lookalike = instant_message(ENV, "r", "q", ["a@example.org"], article(title="=?utf-8?q?Bcc:_x?= plain"), TERMS,
                                "<m4@x>")
    one, two, three, four = (parse(m) for m in (first, second, third, lookalike))
    assert (one["To"], two["To"]) == ("a@example.org", "b@example.org, c@example.org")
    assert (one["X-Mediawatch-Rule"], two["X-Mediawatch-Rule"], three["X-Mediawatch-Rule"]) == \
        ("belarus", "minsk", "беларусь")
    assert one["Subject"] == f"[mediawatch] belarus: {long_title}"
    assert three["Subject"] == f"[mediawatch] беларусь: {cyrillic}"
    assert four["Subject"] == "[mediawatch] r: =?utf-8?q?Bcc:_x?= plain"  # said as an encoded word, not decoded
    assert (one["Message-ID"], three["Message-ID"]) == ("<m1@x>", "<m3@x>")
    for mail in (first, third):
        raw = mail.as_bytes()
        assert raw.isascii()
        assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_cleaned_header_value_reads_back_as_written(value):
    cleaned = clean_header(value, limit=250)
    parsed = parse(compose([("Message-ID", "<p@x>"), ("Subject", cleaned)], "t", "h"))
    assert str(parsed["Subject"]) == cleaned


def test_boundary_comes_from_the_message_id_and_no_part_can_hold_it():
    one = instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, "<b1@x>")
    again = instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, "<b1@x>")
    assert parse(one).get_boundary() == parse(again).get_boundary() == boundary_for("<b1@x>")
    hostile = article(title=f"see\n--{boundary_for('<b2@x>')}\nContent-Type: text/evil",
                      text=f"--{boundary_for('<b2@x>')}--\n" + "Lukashenko " * 60)
    parsed = parse(instant_message(ENV, "r", "q", ["a@example.org"], hostile, TERMS, "<b2@x>"))
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    body = parsed.get_body(("plain",)).get_content()
    assert f"--{boundary_for('<b2@x>')}--" in body and "Lukashenko" in body  # quoted-printable wrote its = as =3D


def test_a_non_ascii_address_is_written_as_utf8():
    ascii_only = instant_message(ENV, "r", "q", ["a@example.org"], article(), TERMS, "<i1@x>")
    mail = instant_message(ENV, "r", "q", ["jörg@example.org"], article(), TERMS, "<i2@x>")
    assert ascii_only.as_bytes().isascii() and not ascii_only.policy.utf8 and mail.policy.utf8
    assert envelope(mail) == ("alerts@mediawatch.example", ["jörg@example.org"])
    assert "To: jörg@example.org\r\n".encode() in mail.as_bytes()  # RFC 6532, as the outbox holds it
    parsed = email.message_from_string(mail.as_bytes().decode("utf-8"), policy=email.policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["jörg@example.org"]


def test_a_non_ascii_display_name_and_an_address_with_an_encoded_word_lookalike_read_back():
    sender = Envelope("alerts@mediawatch.example", "Müller")
    mail = instant_message(sender, "r", "q", ["a=?utf-8?q?x?=b@example.org", "c@example.org"], article(), TERMS,
                           "<e1@x>")
    raw = mail.as_bytes()
    assert raw.isascii()
    parsed = parse(mail)
    assert not parsed["From"].defects and not parsed["To"].defects
    (author,) = parsed["From"].addresses
    assert (author.display_name, author.addr_spec) == ("Müller", "alerts@mediawatch.example")
    assert [a.addr_spec for a in parsed["To"].addresses] == ["a=?utf-8?q?x?=b@example.org", "c@example.org"]
    assert envelope(mail) == ("alerts@mediawatch.example", ["a=?utf-8?q?x?=b@example.org", "c@example.org"])


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \t\r\n\x00\x07\x1c\x1f\x7f\x85\x9f\xa0\u2028\u2029\u200bé"), max_size=40)
       | st.text(max_size=80))
def test_clean_text_collapses_every_control_and_space_run_to_one_space(value):
    import re

    expected = re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", value)).strip()
    assert clean_text(value) == expected


def test_a_space_between_encoded_words_survives_folding():
    # found by the property test above: the policy's own folder wrote the space as folding whitespace
    value = "000000¡¡¡¡𐀀𐀀𐀀𐀀𐀀𐀀𐀀 ¡ ¡"
    parsed = parse(compose([("Message-ID", "<s@x>"), ("Subject", value)], "t", "h"))
    assert str(parsed["Subject"]) == value


def test_a_mails_own_headers_are_not_kept_and_mails_read_the_same_with_the_caches_cold():
    """Subject, Message-ID and the MIME boundary differ in every mail: the shared header caches keep
    none of them, and what they do keep changes no byte of a mail."""
    from indexer.alerts import render

    shared = render._SMTP.header_factory
    mails = [instant_message(ENV, "belarus", "lukashenko", ["analyst@example.org"],
                             article(url=f"https://www.dw.com/en/lukashenko/a-{n}", title=f"Talks in Minsk, day {n}"),
                             TERMS, f"<mw.{n}@mediawatch.example>") for n in range(3)]
    warm = [m.as_bytes() for m in mails]
    kept = [name.lower() for name, _value in shared._parsed]
    assert "from" in kept and "subject" not in kept and "message-id" not in kept
    assert not any("boundary=" in str(header) for header, _folded in shared.folds.values())
    shared._parsed.clear()
    shared.folds.clear()
    assert [m.as_bytes() for m in mails] == warm
