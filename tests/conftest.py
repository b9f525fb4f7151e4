"""Fixtures for real services: an Elasticsearch node, an SMTP server, fixture news sites."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.harness.elasticsearch import ElasticsearchNode

# CI replays the same examples on every run, so a red CI is the change's doing, not the draw's; a
# developer's run keeps drawing new ones (two real URL and mail bugs were found that way).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def es_node():
    """The session's Elasticsearch node; a test may stop() and start() it (data and port kept)."""
    node = ElasticsearchNode()
    node.start()
    yield node
    node.cleanup()


@pytest.fixture(scope="session")
def es_url(es_node) -> str:
    return es_node.url


@pytest.fixture
def es_running(es_node):
    """For tests that need the node up, after another test stopped it."""
    if es_node.proc is None:
        es_node.start()
    return es_node


from tests.harness.sites import fixture_site, fixture_site_factory  # noqa: E402,F401  (fixtures)
from tests.harness.smtp import smtp_server  # noqa: E402,F401  (fixture)
