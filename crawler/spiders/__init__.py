"""A source's run (``SourceRun``) and the spider of the shared crawler that carries many runs (``HubSpider``)."""

from crawler.spiders.hub import HubSpider
from crawler.spiders.source import SourceRun

__all__ = ["HubSpider", "SourceRun"]
