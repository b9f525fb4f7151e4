"""crawler.xml: bombs and XXE refused before parsing, broken XML recovered, encodings handled."""

from __future__ import annotations

import codecs
import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from crawler.xml import XMLBroken, XMLError, XMLRefused, gunzip_capped, local, parse_xml

BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><rss><channel><title>&lol3;</title></channel></rss>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<rss><channel><title>&xxe;</title></channel></rss>')
PARAM_XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/x.dtd"> %ext;]>'
             b'<rss/>')


@pytest.mark.parametrize("doc", [BOMB, XXE, PARAM_XXE], ids=["billion-laughs", "xxe", "parameter-entity"])
def test_entity_declarations_refused(doc):
    with pytest.raises(XMLRefused) as err:
        parse_xml(doc)
    assert err.value.reason == "xml_entities"


def test_entities_refused_in_utf16_too():
    doc = codecs.BOM_UTF16_LE + XXE.decode().encode("utf-16-le")
    with pytest.raises(XMLRefused):
        parse_xml(doc)


def test_internal_subset_without_entities_refused_but_plain_doctype_ok():
    with pytest.raises(XMLRefused):
        parse_xml(b'<!DOCTYPE rss [<!ELEMENT rss ANY>]><rss/>')
    root = parse_xml(b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" '
                     b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel/></rss>')
    assert local(root.tag) == "rss"


def test_undeclared_entity_not_resolved():
    root = parse_xml(b"<rss><channel><title>a &nbsp; b &amp; c</title></channel></rss>")
    assert "passwd" not in etree.tostring(root).decode()


def test_broken_xml_recovered():
    root = parse_xml(b"<rss><channel><item><link>http://a.example/1</link></item><item><title>x<b></title>")
    assert [local(el.tag) for el in root.iter()][:3] == ["rss", "channel", "item"]


@pytest.mark.parametrize("body", [b"", b"   ", b"\x00\x01\x02" * 100, b"not xml at all"])
def test_unrecoverable(body):
    with pytest.raises(XMLBroken):
        parse_xml(body)


def test_gzip_and_gzip_bomb():
    doc = b"<urlset><url><loc>http://a.example/</loc></url></urlset>"
    assert local(parse_xml(gzip.compress(doc)).tag) == "urlset"
    bomb = gzip.compress(b"<a>" + b" " * (60 * 1024 * 1024) + b"</a>")
    assert len(bomb) < 100_000
    with pytest.raises(XMLRefused) as err:
        parse_xml(bomb)
    assert err.value.reason == "too_large"
    with pytest.raises(XMLBroken):
        gunzip_capped(b"\x1f\x8b" + b"junk")


def test_wrong_encoding_declaration():
    doc = '<?xml version="1.0" encoding="UTF-8"?><rss><channel><title>Café résumé</title></channel></rss>'
    root = parse_xml(doc.encode("latin-1"))
    assert root.find("channel/title").text == "Café résumé"


def test_utf16_with_bom():
    doc = '<?xml version="1.0" encoding="UTF-16"?><rss><channel><title>Ünïcode</title></channel></rss>'
    root = parse_xml(codecs.BOM_UTF16_LE + doc.encode("utf-16-le"))
    assert root.find("channel/title").text == "Ünïcode"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(body):
    try:
        parse_xml(body)
    except XMLError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_arbitrary_markup_never_crashes(text):
    try:
        parse_xml(("<rss><channel>" + text).encode("utf-8", "surrogatepass"))
    except (XMLError, UnicodeError):
        pass
