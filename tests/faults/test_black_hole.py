"""Black holes: a host whose packets are dropped (connect never completes) or that accepts and never
answers costs a crawl its download timeout, not forever; the other sources are unaffected."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.faults import BlackHole

pytestmark = pytest.mark.timeout(180)


def test_dropped_and_silent_hosts_are_bounded(project, fixture_site):
    dropped, silent = BlackHole(), BlackHole(silent=True)
    try:
        sources = [
            fixture_site.source("good", **once()),
            {"name": "dropped", "feeds": [dropped.url("/rss.xml")], "allow_private_addresses": True, **once()},
            {"name": "silent", "feeds": [silent.url("/rss.xml")], "allow_private_addresses": True, **once()},
        ]
        project.write(base_config(project.root, sources, crawl={"download_timeout": 3, "retry_times": 0}))
        started = time.monotonic()
        result = project.run("crawl", timeout=120)
        took = time.monotonic() - started
        assert result.returncode == 0, result.stderr[-3000:]
        rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
        assert "error:timeout=1" in rows["dropped"] and "error:timeout=1" in rows["silent"], result.stdout
        assert rows["good"].split()[1] == str(len(fixture_site.articles)), result.stdout
        # Bounded by the timeout (plus start-up and the good source's crawl), not by the kernel's
        # minutes of SYN retries or an endless read.
        assert took < 60, took
    finally:
        dropped.close()
        silent.close()
