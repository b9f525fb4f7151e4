"""Debian's headless Chromium driven by Playwright: one browser per test module, a fresh page per test that
records dialogs, console errors and uncaught page errors (``page.troubles``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"  # the system browser: `playwright install` would download one
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.troubles = []
    pg.on("dialog", lambda d: (pg.troubles.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("console", lambda m: m.type == "error" and pg.troubles.append(f"console: {m.text}"))
    pg.on("pageerror", lambda e: pg.troubles.append(f"pageerror: {e}"))
    yield pg
    context.close()
