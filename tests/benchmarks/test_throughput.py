"""The throughput benchmark at a tiny budget: three training rates, two data rates, ratios."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from benchmarks.throughput import MODELS, main

TINY = ["width=8", "batch_size=8", "warmup=1", "steps=2", "n_images=32", "workers=1"]


def test_throughput_reports_every_rate_and_the_ratios_of_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [f"out={out}", f"root={tmp_path / 'data'}", "data_batches=3", "repeats=2", *TINY]

    assert main(args) == 0

    report = json.loads((out / "throughput.json").read_text())
    assert report["machine"]["torch"] and report["machine"]["torch_threads"] >= 1
    assert set(report["models"]) == set(MODELS)
    for result in report["models"].values():
        rate = {key: result[key]["images_per_s"] for key in ("module", "reference", "plain")}
        for key in rate:
            assert rate[key] > 0 and result[key]["images"] == 2 * 8, key
            assert rate[key] == pytest.approx(statistics.median(result[key]["runs"]))
            assert len(result[key]["runs"]) == 2 and result[key]["rss_peak_mb"] > 0
        data = {key: result["data"][key]["images_per_s"] for key in ("ours", "jpeg")}
        assert min(data.values()) > 0 and result["data"]["ours"]["images"] == 3 * 8
        ratios = result["ratios"]
        assert ratios["module_vs_plain"] == pytest.approx(rate["module"] / rate["plain"])
        per_cpu_s = {key: result[key]["images_per_cpu_s"] for key in ("module", "plain")}
        assert min(per_cpu_s.values()) > 0
        assert ratios["module_vs_plain_cpu"] == pytest.approx(
            per_cpu_s["module"] / per_cpu_s["plain"]
        )
        assert ratios["module_vs_reference"] == pytest.approx(rate["module"] / rate["reference"])
        assert ratios["data_ours_vs_jpeg"] == pytest.approx(data["ours"] / data["jpeg"])
        assert set(result["meets_cpu_targets"]) == set(report["targets"])


@pytest.mark.parametrize("bad", ["models=dcgan,biggan", "warmup=0"])
def test_bad_options_stop_before_measuring(tmp_path: Path, bad: str) -> None:
    assert main([f"out={tmp_path}", bad]) == 2
    assert not (tmp_path / "throughput.json").exists()
