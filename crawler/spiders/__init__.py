"""Scrapy spiders. One ``SourceSpider`` crawl per configured source and run."""

from crawler.spiders.source import SourceSpider

__all__ = ["SourceSpider"]
