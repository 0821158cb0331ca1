"""The benchmarks run end to end at smoke sizes and write what BENCHMARKS.md is made of.

No timing is asserted here (speed and memory are measured in bench/, never in timed unit
tests): only that each benchmark finishes, writes its result file with the ratios and goal
verdicts, and that federation's equality check against the baselines passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(out: Path, only: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DECENTRALML_BENCH_SPEC_TIMEOUT="0", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", only, "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )


def result(out: Path, name: str) -> dict:
    path = out / f"{name}.json"
    assert path.is_file(), f"{name} wrote no {path}"
    data = json.loads(path.read_text())
    assert data["smoke"] is True
    assert data["machine"]["nproc"] and data["load_start"], "the machine and its load are recorded"
    numbers = [v for v in data["ratios"].values() if isinstance(v, (int, float))]
    assert numbers, f"{name} reported no ratios: {data['ratios']}"
    assert data["goals"] and all("met" in g for g in data["goals"]), f"{name} gave no goal verdicts"
    return data


def check_ran(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"python -m bench failed:\n{proc.stderr[-5000:]}"


@pytest.fixture(scope="module")
def federation_and_storage(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = run_bench(out, "federation,storage")
    check_ran(proc)
    return out


def test_federation_smoke_matches_the_seed_and_flower(federation_and_storage):
    data = result(federation_and_storage, "federation")
    row = data["rows"][0]
    assert {"floor", "ours", "seed", "flower"} <= set(row["variants"])
    assert row["check"]["passed"], row["check"]
    assert all(a["compared"] and a["passed"] for a in row["check"]["against"].values())
    equal = next(g for g in data["goals"] if g["id"] == "equal")
    assert equal["met"] is True
    assert row["variants"]["ours"]["peak_rss_mb"] > 0, "peak RSS is measured in the worker"


def test_storage_smoke_compares_ours_with_the_plain_tools(federation_and_storage):
    data = result(federation_and_storage, "storage")
    variants = data["rows"][0]["variants"]
    for store in ("ipfs", "s3"):
        for op in ("up", "down"):
            assert variants[f"{store}_ours_{op}"]["mb_per_s"] > 0
            assert variants[f"{store}_plain_{op}"]["mb_per_s"] > 0
    assert any(g["id"] == "memory" for g in data["goals"])


def test_smoke_report_has_a_section_and_a_chart_per_benchmark(federation_and_storage):
    report = (federation_and_storage / "BENCHMARKS.md").read_text()
    assert "## Federation" in report and "## Storage" in report and "smoke sizes" in report
    assert (federation_and_storage / "federation.png").is_file()
    assert (federation_and_storage / "storage.png").is_file()


def test_chain_smoke(tmp_path):
    proc = run_bench(tmp_path, "chain")
    check_ran(proc)
    chain = result(tmp_path, "chain")
    assert chain["batch_accept"]["accepted"] == chain["count"]
    assert set(chain["client_side"]) == {"create_task", "assign_task", "commit_task_result",
                                         "reveal_task_result", "accept_task_result"}


def test_campaign_smoke_times_the_main_jobs_rounds_and_agents_as_processes(tmp_path):
    proc = run_bench(tmp_path, "campaign")
    check_ran(proc)
    data = result(tmp_path, "campaign")
    [size] = data["sizes"]
    assert size["n"] == 3 and size["slots"] == 6
    assert size["accepted"] == size["slots"], size["agents"]["missed"]
    agents = size["agents"]
    assert agents["exit_codes"] == {"0": 3} and agents["results_sent"] == {"2": 3}
    assert agents["error_count"] == 0, agents["errors"]
    assert agents["peak_rss_mb"]["max"] > 0, "each agent's peak RSS is read from the kernel"
    for r in size["rounds"]:
        assert r["accepted"] == 3 and r["waiting"] > 0 and r["creator_busy"] > 0
        assert {"storage", "chain", "validation", "decisions", "federation", "close"} <= set(r["phases"])
    assert {g["id"] for g in data["goals"]} >= {"overhead", "nonce", "missed", "linear"}
    demo = data["demo"]["rounds"]  # the main job's campaign, training against the rest per round
    assert [r["round"] for r in demo] == [1, 2]
    for r in demo:
        assert 0 < r["training"] < r["wall"] and r["share"] > 0
        assert r["phases"]["validation"] > 0 and r["phases"]["federation"] > 0
    report = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Campaigns" in report and (tmp_path / "campaign.png").is_file()


def test_network_benchmark_is_rendered_from_its_result_file_and_not_run_by_default(tmp_path):
    from bench.__main__ import BENCHMARKS

    assert "network" not in BENCHMARKS, "the network benchmark needs a node, which CI has not: run by hand only"
    measured = json.loads((ROOT / "bench" / "results" / "network.json").read_text())
    (tmp_path / "network.json").write_text(json.dumps(measured))
    proc = subprocess.run([sys.executable, "-m", "bench", "--report-only", "--out", str(tmp_path)],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=600)
    check_ran(proc)
    report = (tmp_path / "BENCHMARKS.md").read_text()
    section = report.split("## Network", 1)[1]
    assert measured["node"]["version"] in section and measured["command"] in section
    for summary in measured["summaries"]:
        ratio = summary["network_over_chopsticks"]["round_wall"]
        assert f"**{ratio:.2f}×**" in section, "the round's network ÷ Chopsticks ratio is shown"
    assert "6 s" in section and "finality" in section


@pytest.mark.parametrize("args", [["--rounds-arg", "one"], ["--rounds-arg", "0"], ["--repeats", "0"],
                                  ["--rpc-port", "80"]])
def test_network_benchmark_rejects_bad_arguments_before_starting_anything(args, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench.network", *args, "--out", str(tmp_path)],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "error:" in proc.stderr and not (tmp_path / "network.json").exists()
