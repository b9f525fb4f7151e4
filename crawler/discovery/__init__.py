"""Finding article URLs: feeds (RSS 2.0, RSS 1.0/RDF, Atom), sitemaps, section-page links.

Pure functions over bytes/str: no Scrapy, no network. The spider fetches, these parse.
Dates are read by :func:`crawler.dates.parse_date`, the parser pages use too.
"""
