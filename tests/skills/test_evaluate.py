"""Offline evaluation: on a generated dataset our recommender beats both baselines."""

from __future__ import annotations

import csv
import json

from bench.recommend_dataset import generate


def test_recommender_beats_popular_and_random_with_no_prerequisite_violations(app, tmp_path):
    dataset = generate(tmp_path / "ds", workers=250, courses=60, seed=3)
    dump = tmp_path / "lists.csv"
    result = app.test_cli_runner().invoke(
        args=["recommend", "evaluate", str(dataset), "--k", "5", "--json", "--dump", str(dump)]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    ours = metrics["recommender"]
    for baseline in ("popular", "random"):
        for metric in ("gap_coverage@5", "hit_rate@5", "ndcg@5"):
            assert ours[metric] > metrics[baseline][metric], (metric, baseline, metrics)
    assert ours["prerequisite_violations"] == 0
    with open(dump, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {"worker_id", "rank", "course_slug", "reason"}
    assert all(r["reason"].startswith(("补齐岗位要求：", "提升：")) for r in rows)


def test_a_missing_dataset_file_is_a_clear_error(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["recommend", "evaluate", str(tmp_path)])
    assert result.exit_code != 0
    assert "cannot read the dataset" in result.output
