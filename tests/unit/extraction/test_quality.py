"""Body-text quality on the aeb-dev set with the shared scorer: the issue's bar is F1 >= 0.97."""

from __future__ import annotations

import importlib.util

import pytest

from crawler.extraction import score_adapter

from ._data import SHARED


def load_scorer():
    path = SHARED / "eval" / "score.py"
    if not path.exists():
        pytest.skip("shared scorer not available")
    spec = importlib.util.spec_from_file_location("shared_score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(240)
def test_aeb_dev_f1():
    score = load_scorer()
    data = str(SHARED / "eval" / "aeb-dev")
    _, truth = score.load_truth(data)
    counts = []
    for pid, item in truth.items():
        html = score.decode_html(score.read_bytes(score.find_page(data, pid)))
        counts.append(score.page_counts(item["articleBody"], score_adapter(html, item["url"])["text"]))
    f1, precision, recall = score.aggregate(counts)
    assert f1 >= 0.97, (f1, precision, recall)
