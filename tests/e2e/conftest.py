"""Fixtures for end-to-end tests: a project (a config file in a temp dir) to run the real `mediawatch`
CLI against (:mod:`tests.harness.project`)."""

from __future__ import annotations

import pytest

from tests.harness.project import Project


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)
