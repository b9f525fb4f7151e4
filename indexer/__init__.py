"""Storage side of mediawatch: the Article record, the query language, the backends and alerting.

Imports nothing from ``crawler`` or ``scheduler``: dependencies point one way.
"""
