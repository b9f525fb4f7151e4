"""`sources add` writes the config file without losing comments, order, quoting or its indentation,
and leaves it untouched when the result would not load."""

from __future__ import annotations

import pytest

from scheduler.config import ConfigError, load
from scheduler.configedit import add_source

NEW = {"name": "added", "feeds": ["https://example.org/rss.xml"], "sections": {"urls": ["https://example.org/"]}}


@pytest.mark.parametrize("text, expected_tail", [
    ("# top comment\nlog: {level: info}   # inline\n\nsources:\n  # a comment in the list\n"
     "  - name: one\n    feeds: ['https://one.example/rss']\n\nrules: []  # none\n",
     "  - name: added\n    feeds:\n      - https://example.org/rss.xml\n    sections:\n      urls:\n"
     "        - https://example.org/\n\nrules: []  # none\n"),
    ("sources:\n- name: one\n  feeds: [\"https://one.example/rss\"]\n",
     "- name: added\n  feeds:\n  - https://example.org/rss.xml\n  sections:\n    urls:\n    - https://example.org/\n"),
    ("# nothing yet\nlog:\n  level: info\nsources: []\n",
     "sources:\n  - name: added\n    feeds:\n      - https://example.org/rss.xml\n"),
])
def test_added_in_the_file_s_own_style_and_every_line_kept(tmp_path, text, expected_tail):
    path = tmp_path / "mediawatch.yaml"
    path.write_text(text)
    add_source(path, NEW)
    new = path.read_text()
    kept = [line for line in text.splitlines() if line != "sources: []"]
    assert all(line in new.splitlines() for line in kept), new
    assert expected_tail in new, new
    assert load(path).sources[-1].name == "added"


def test_a_result_that_would_not_load_leaves_the_file_alone(tmp_path):
    path = tmp_path / "mediawatch.yaml"
    text = "# mine\nsources:\n  - name: one\n    feeds: ['https://one.example/rss']\n"
    path.write_text(text)
    path.chmod(0o640)
    with pytest.raises(ConfigError) as err:
        add_source(path, {"name": "one", "feeds": ["https://two.example/rss"]})  # a duplicate name
    assert str(path) in str(err.value) and "duplicate name" in str(err.value)
    assert path.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mediawatch.yaml"]  # no temp file left
    add_source(path, NEW)
    assert path.stat().st_mode & 0o777 == 0o640
