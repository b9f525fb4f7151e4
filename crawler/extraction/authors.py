"""Authors: a clean list of people (or the agencies standing in for them).

Sources in priority order: JSON-LD ``author``, author meta tags, a byline element, then an
agency credit line at the end of the text ("mm/rc (AFP, AP, Reuters)"). In such a credit the
lower-case letters are editors' initials (not names anyone can search for), so the byline
becomes the agencies: ["AFP", "AP", "Reuters"].
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extraction.boilerplate import AGENCY_CREDIT
from crawler.extraction.byline import bylines
from crawler.extraction.metadata import site_names
from crawler.extraction.names import BY_PREFIX, NOT_A_NAME, clean_name, clean_names, until_other_role
from crawler.extraction.normalize import clean_inline
from crawler.extraction.page import Page
from crawler.extraction.shown_dates import near_headline, without_days

AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator",
               "dcterms.creator", "byl", "cxenseparse:author", "citation_author")
_AGENCY = re.compile(r"\b(AFP|AP|Reuters|dpa|KNA|epd|EFE|ANSA|Xinhua|TASS|Interfax|Kyodo|IANS|PTI|UPI|APA|SDA|Belga)\b")
# A user name standing in for the author: one lower-case token, maybe joined by dots or
# underscores ("christian.stadtfeld", "wordpressadmin").
_HANDLE = re.compile(r"[^\W\d][\w.]*")
# compiled once: an XPath string given to .xpath() is compiled on every call
_AUTHOR_MARKUP = XPath('descendant::*[@itemprop="author" or @rel="author"][not(self::meta)][not(self::link)]')
_ITEMPROP_NAME = XPath('descendant::*[@itemprop="name"]')
# Elements whose text no reader sees.
_UNSHOWN = ("script", "style", "template")


def _jsonld_names(value: Any, nodes: dict[str, dict[str, Any]]) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _jsonld_names(v, nodes)]
    if isinstance(value, dict):
        name = value.get("name")
        if not name and isinstance(value.get("@id"), str):
            # a reference into the page's graph (Yoast: {"@id": ".../#/schema/person/..."})
            name = nodes.get(value["@id"], {}).get("name")
        return _jsonld_names(name, {}) if name else []
    return [value] if isinstance(value, str) else []


def from_jsonld(page: Page) -> list[str]:
    value = page.jsonld_article.get("author") or page.jsonld_article.get("creator")
    if not value:
        return []
    nodes = {obj["@id"]: obj for obj in page.jsonld if isinstance(obj.get("@id"), str) and obj.get("name")}
    return clean_names(_jsonld_names(value, nodes))


def from_meta(page: Page) -> list[str]:
    for name in AUTHOR_META:
        values = [v for v in page.meta.get(name, ()) if not v.startswith("http")]
        if values:
            return clean_names(values)
    return []


def from_byline(page: Page) -> list[str]:
    """The names in the first byline element that holds any (rel/itemprop/class markup).

    A later candidate whose text lies inside the first one's is its name element alone
    ("Adam Aaronson" within "By Adam Aaronson PhillyVoice Staff", "Von Tomas Spahn" within
    "Von Tomas Spahn Fr, 18. Oktober 2019"): its names win over the role, outlet or date
    glued to them."""
    first: tuple[str, list[str]] | None = None
    for text in bylines(page.tree):
        if not BY_PREFIX.sub("", clean_inline(text) + " ").strip() or text.endswith(":"):
            continue  # a bare label ("By", "Von", "Datum:") whose value sits elsewhere
        if first is not None:
            if len(text) < len(first[0]) and text in first[0]:
                inner = clean_names([text])
                if inner and inner != first[1]:
                    return inner
            continue
        found = clean_names([text])
        if found:
            first = (text, found)
    return first[1] if first else []


def from_microdata(page: Page) -> list[str]:
    """Visible author markup (itemprop=author, rel=author) where no byline pattern matched."""
    found = []
    for el in _AUTHOR_MARKUP(page.tree):
        names = _ITEMPROP_NAME(el)
        value = (names[0].get("content") or names[0].text_content()) if names else el.text_content()
        found.append(value)
    return clean_names(found)


# A short line that is only a byline: "von Daniela Obers", "Ein Artikel von Pamela Sladky | 27.01.2022",
# "Ein Interview von Jana Kiel mit Ada Berg" (the kind of piece, then its author, then whom they met).
_TEXT_BYLINE = re.compile(
    r"^(?:eine?\s+\w+\s+von|(?:text|words|written|geschrieben|verfasst)\s+(?:von|by|par|di)"
    r"|von|by|par|por|di|door|text|autor(?:in|e|a)?|auteur|author)"
    r"\s*:?\s+(\w[\w'’.-]*(?:\s+\w[\w'’.-]*){1,3}?)\s*(?:$|[|,/•·–—-]|\d|\s(?:mit|with|avec|con)\s)", re.I)
_BYLINE_TAGS = ("p", "span", "div", "em", "i", "b", "strong", "small", "address", "label", "dt")
# A heading holds a byline only as its label ("<h5>Autor:</h5> Jana Kiel"); its own text is a title.
_LABEL_ONLY_TAGS = ("h2", "h3", "h4", "h5", "h6")
_BYLINE_START = re.compile(
    r"[\s|•·–—-]*(?:eine?\s|von|by|par|por|di|door|text|autor|auteur|author|written|geschrieben|verfasst)", re.I)
# An element that holds only the label, its name in the text or element after it:
# <span>By</span><span>Jane Doe</span>, <strong>Autor:</strong> <a>Jane Doe</a>.
_LABEL = re.compile(r"[\s|•·–—-]*(?:(?:written|geschrieben|verfasst)\s+)?"
                    r"(?:von|by|par|por|door|text|autor(?:in|e|a)?|auteur|author)\s*:?\s*", re.I)
# The name ends at a bar, a comma, a date, or a slash before the agency ("Jana Kiel/dpa").
_LABELLED_NAME = re.compile(r"(\w[\w'’.-]*(?:\s+\w[\w'’.-]*){1,3})\s*(?:$|[|,/•·–—-]|\d)")


def _after_label(el: HtmlElement) -> list[str]:
    """The name written right after a label element: its tail, else the next element's text."""
    following = (el.tail or "").strip()
    if not following:
        sibling = el.getnext()
        following = sibling.text_content() if sibling is not None else ""
    text = " ".join(following.split())
    m = _LABELLED_NAME.match(text) if len(text) <= 80 else None
    if m and all(w[0].isupper() for w in m.group(1).split()):
        return clean_names([m.group(1)])
    return []


def from_text_byline(page: Page) -> list[str]:
    """The first short element whose whole text is "by/von/par ... Name", or a by/author label
    followed by the name: bylines without markup."""
    return next(_text_bylines(page), [])


def _text_bylines(page: Page) -> Iterator[list[str]]:
    """The names of every such element, in document order."""
    body = page.tree.find(".//body")
    if body is None:
        return
    for el in body.iter(*_BYLINE_TAGS, *_LABEL_ONLY_TAGS):
        # the element's first words first: its whole text only when they open a byline
        first = el.text
        if not first or first.isspace():
            first = next((piece for piece in el.itertext() if not piece.isspace()), "")
        if not _BYLINE_START.match(first):
            continue
        if not len(el) and _LABEL.fullmatch(first):
            found = _after_label(el)
            if found:
                yield found
            continue
        text = " ".join(el.text_content().split())
        if not text or len(text) > 80 or el.tag in _LABEL_ONLY_TAGS:
            continue
        m = _TEXT_BYLINE.match(until_other_role(text))
        if m and all(w[0].isupper() for w in m.group(1).split()):
            found = clean_names([m.group(1)])
            if found:
                yield found


_DATELINE_PARTS = re.compile(r"\s*[|•·,]\s*|\s+[–—-]\s+")
_TIME = re.compile(r"\d{1,2}[:.]\d{2}(?:\s*(?:uhr|h|am|pm|a\.m\.|p\.m\.))?", re.I)
# Lower-case words a name may hold ("Ursula von der Leyen", "Vincent van Gogh").
_PARTICLES = frozenset("von van der den de da del della di du la le dos das y e zu".split())


def _is_written_name(piece: str) -> bool:
    words = piece.split()
    return 2 <= len(words) <= 4 and all(w[0].isupper() or w in _PARTICLES for w in words) and words[-1][0].isupper()


def from_dateline(page: Page) -> list[str]:
    """A name beside the date in the line next to the headline, without author markup:
    "11.12.2019 - Jana Kiel", "04.02.2022 | 13:10 Uhr | Jana Kiel", "Jana Kiel, 3. Mai 2022"."""
    for el in near_headline(page.tree):
        text = " ".join(el.text_content().split())
        undated = without_days(text, "|")
        if undated == text:
            continue
        rest = [p for p in _DATELINE_PARTS.split(undated) if p.strip(" .,") and not _TIME.fullmatch(p)]
        # a label for the date ("Last Modified: Feb 18, 2020") is no name
        if len(rest) == 1 and not NOT_A_NAME.search(rest[0]) and not rest[0].rstrip().endswith(":"):
            name = clean_name(rest[0].strip(" -–—"))
            if _is_written_name(name):
                return [name]
    return []


def from_agency_credit(text: str) -> list[str]:
    """Agencies named by a credit line among the last lines of the body text."""
    for line in reversed(text.split("\n")[-4:]):
        if AGENCY_CREDIT.match(line.strip()):
            return list(dict.fromkeys(_AGENCY.findall(line)))
    return []


# A site name shorter than this ("ap", "ndr") may be a piece of a person's name.
_MIN_SITE = 5


def _squash(value: str) -> str:
    return re.sub(r"\W+", "", value.casefold())


def _is_publisher(names: list[str], sites: set[str]) -> bool:
    """The site's own name among the names ("STERN.de", "SPIEGEL ONLINE, Hamburg, Germany"),
    maybe split by our own splitting ("Jobs & Hire") or written with more words than the site's
    name ("Die FURCHE", "OÖ Volksblatt" on volksblatt.at)."""
    squashed = [_squash(n) for n in names] + [_squash("".join(names))]
    return any(s in sites or any(len(site) >= _MIN_SITE and site in s for site in sites) for s in squashed)


def _initials(names: set[str]) -> set[str]:
    """The initials of the site's names of several words: "LN" for "Lübecker Nachrichten"."""
    return {"".join(w[0] for w in n.split()) for n in names if len(n.split()) > 1}


def _are_handles(names: list[str]) -> bool:
    return all(n.islower() and _HANDLE.fullmatch(n) for n in names)


def _spells(handles: list[str], names: list[str]) -> bool:
    """Names that spell out the user names ("Edilson La Rosa" for "edilson.la.rosa")."""
    squashed = _squash("".join(names))
    return all(part in squashed for h in handles for part in re.split(r"[._]+", h.casefold()) if part)


def _is_person(names: list[str], sites: set[str]) -> bool:
    """Names that read as people: two words or more, no initials-only noise ("D E"), no
    placeholder ("Name"), no site name inside ("CBS News February")."""
    for name in names:
        words = name.split()
        if len(words) < 2 or all(len(w.strip(".")) < 2 for w in words):
            return False
        if any(site and site in _squash(name) for site in sites):
            return False
    return True


def _shown(page: Page, names: list[str]) -> bool:
    """Whether the page shows any of these names to its readers, as written or in capitals:
    found more often in the body's text than in its scripts and styles. The body's text is
    read in C and searched as a plain string, much cheaper than a case-blind regex."""
    body = page.tree.find("body")
    if body is None:
        return False
    text = body.text_content()
    unshown: list[str] | None = None
    for name in names:
        for spelling in dict.fromkeys((name, name.upper())):
            count = text.count(spelling)
            if count:
                if unshown is None:
                    # their own text, which in a template runs on after its child elements
                    unshown = [t for el in body.iter(*_UNSHOWN) for t in (el.text, *(c.tail for c in el)) if t]
                if count > sum(piece.count(spelling) for piece in unshown):
                    return True
    return False


_METADATA = (from_jsonld, from_meta)
_SOURCES = (from_jsonld, from_meta, from_byline, from_microdata, from_text_byline, from_dateline)


def _found_by(page: Page, source: Any) -> Iterator[list[str]]:
    """What a source names: each text byline in turn (the site's own "By The Daily Planet" may
    stand above a republished piece's "Written by: X"), the others' one list."""
    if source is from_text_byline:
        yield from _text_bylines(page)
        return
    found = source(page)
    if found:
        yield found


def _spelt_out(page: Page, found: list[str], later: tuple[Any, ...]) -> list[str]:
    """A lone first name ("Todd", a CMS's display name) as a later source spells it out with
    more words ("Todd Bates"); ``found`` when none does."""
    if len(found) != 1 or " " in found[0]:
        return found
    word = found[0].casefold()
    for source in later:
        for name in source(page):
            if _is_written_name(name) and word in name.casefold().split():
                return [name]
    return found


def authors(page: Page, text: str = "", credit_lines: Iterable[str] = ()) -> list[str]:
    # Visible author markup and bare "by ..." lines come after the byline elements (byline.py):
    # they only speak for pages where those found nobody. The publisher standing in for the
    # author (a CMS default) yields to a later source only when that one names people; a user
    # name standing in for the author ("edilson.la.rosa") only to that person's name spelt out.
    # A name the metadata gives but the page never shows is a CMS default too (the account that
    # uploaded the story, a placeholder): it yields like the publisher, and never wins over it.
    publisher: list[str] = []
    sites: set[str] = set()
    for at, source in enumerate(_SOURCES):
        for found in _found_by(page, source):
            hidden = source in _METADATA and not _shown(page, found)
            if not publisher:
                names = site_names(page)
                sites = {_squash(n) for n in names} - {""}
                # the site's initials standing in for the author are the publisher too, but are
                # no site name to look for inside people's names ("ln" in "Kölner")
                own = _is_publisher(found, sites) or _squash("".join(found)) in _initials(names)
                if not hidden and not own and not _are_handles(found):
                    return _spelt_out(page, found, _SOURCES[at + 1:])
                publisher = found
            elif not hidden and _is_person(found, sites) and (not _are_handles(publisher) or _spells(publisher, found)):
                return found
    if publisher:
        return publisher
    for line in credit_lines:
        found = from_agency_credit(line)
        if found:
            return found
    return from_agency_credit(text)
