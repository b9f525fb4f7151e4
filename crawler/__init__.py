"""Fetching side of mediawatch: spiders, frontier, the pure extraction library, item pipelines.

May import from ``indexer`` only its Article record and the backend interface.
"""
