"""The sampling benchmark at a tiny budget: the generator and both evaluators are timed."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.sampling import main

MEASURED = ("generator", "iclevr_evaluator", "anime_tags_classifier")


def test_sampling_reports_a_rate_for_the_generator_and_each_evaluator(tmp_path: Path) -> None:
    args = [f"out={tmp_path}", "width=8", "batch_size=4", "batches=2", "warmup=1"]

    assert main(args) == 0

    report = json.loads((tmp_path / "sampling.json").read_text())
    assert report["machine"]["torch"] and report["settings"]["device"] == "cpu"
    for key in MEASURED:
        assert report[key]["images_per_s"] > 0, key
        assert report[key]["images"] == 2 * 4, key
        assert report[key]["images_per_s"] == report[key]["images"] / report[key]["seconds"]
        assert report[key]["rss_peak_mb"] > 0


def test_no_timed_batch_is_an_error(tmp_path: Path) -> None:
    assert main([f"out={tmp_path}", "batches=0"]) == 2
