"""Per-site rules as data: matched by domain pattern, never by page.

Each rule may add XPath prunes (handed to trafilatura before extraction) and line patterns
(dropped after it). Keep rules few and generic to a site's templates; anything that helps
many sites belongs in boilerplate.py instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crawler.urls import registrable_domain


@dataclass(frozen=True)
class SiteRule:
    domains: tuple[str, ...]
    prune_xpath: tuple[str, ...] = ()
    drop_lines: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(re.compile(p, re.I) for p in self.drop_lines))


RULES: tuple[SiteRule, ...] = (
    # DW (2020 templates): teaser boxes after the article and the "Skip next section" anchors
    # around them; the share bar and the image-credit line sit inside the article container.
    SiteRule(
        domains=("dw.com",),
        prune_xpath=('//*[contains(@class, "col1") and .//h2[contains(., "Top Stor")]]',
                     '//*[contains(@class, "linkList") or contains(@class, "shareBar")]'),
        drop_lines=(r"^Skip next section\b", r"^(More stories from DW|DW's Top Story|Related content)\s*$"),
    ),
)


def rule_for(url: str) -> SiteRule | None:
    domain = registrable_domain(url)
    for rule in RULES:
        if domain in rule.domains:
            return rule
    return None
