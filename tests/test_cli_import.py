"""`alignlab import mt-bench`: published FastChat runs become rows of an experiment."""

from __future__ import annotations

import json

import pandas as pd

from harness.cli import main


def test_import_mt_bench_json_matches_show_result(data_dir, tmp_path, capsys):
    src = data_dir / "fastchat-published" / "jxiw"
    code = main(
        [
            "import",
            "mt-bench",
            "--data-dir",
            str(src),
            "--experiment",
            "jx",
            "--results-dir",
            str(tmp_path),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["records"] == 960 and out["prompt_matches"] == 960 and out["score_matches"] == 960
    assert out["prompt_mismatches"] == [] and out["duplicates"] == []
    # show_result: mean over all non -1 scores of the model, independently recomputed here
    rows = [
        json.loads(x)
        for f in (src / "mt_bench" / "model_judgment").glob("*_single.jsonl")
        for x in f.read_text().splitlines()
        if x.strip()
    ]
    df = pd.DataFrame(rows)
    df = df[df.score != -1]
    for model, group in df.groupby("model"):
        got = out["models"][model]
        assert got["score"] == group.score.mean()
        assert got["score_turn1"] == group[group.turn == 1].score.mean()
    assert out["models"]["mamba_0_5_dpo_ep3"] == {
        "score": 7.3125,
        "score_turn1": 7.7375,
        "score_turn2": 6.8875,
    }
    summary = pd.read_csv(tmp_path / "jx" / "summary.csv")
    assert set(summary.model) == set(out["models"])
    row = summary[(summary.model == "mamba_0_5_dpo_ep3") & (summary.metric == "score")].iloc[0]
    assert row.value == 7.3125 and row.ci_low < 7.3125 < row.ci_high and row.judge == "gpt-4"


def test_import_twice_replaces_rows(data_dir, tmp_path, capsys):
    src = data_dir / "fastchat-published" / "Stefanstud"
    args = [
        "import",
        "mt-bench",
        "--data-dir",
        str(src),
        "--experiment",
        "st",
        "--results-dir",
        str(tmp_path),
    ]
    assert main(args) == 0 and main(args) == 0
    summary = pd.read_csv(tmp_path / "st" / "summary.csv")
    assert not summary.duplicated(["model", "benchmark", "metric"]).any()
    assert "byte-identical" in capsys.readouterr().out


def test_import_alpaca_eval_reproduces_the_leaderboard_row(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = data_dir / "alpaca_eval" / "results" / "zephyr-7b-beta"
    code = main(
        [
            "import",
            "alpaca-eval",
            "--results-dir",
            str(src),
            "--annotator",
            "alpaca_eval_gpt4",
            "--experiment",
            "ae",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    z = out["models"]["zephyr-7b-beta"]
    assert round(z["win_rate"], 4) == 90.5978 and round(z["standard_error"], 4) == 1.0287
    assert z["n_total"] == 803 and z["n_draws"] == 1
    summary = pd.read_csv(tmp_path / "results" / "ae" / "summary.csv")
    row = summary[summary.metric == "win_rate"].iloc[0]
    assert row.model == "zephyr-7b-beta" and row.n_failed == 2  # 805 instructions, 803 annotated


def test_import_alpaca_eval_wrong_annotator_is_a_clear_error(data_dir, tmp_path, capsys):
    src = data_dir / "alpaca_eval" / "results"
    code = main(
        [
            "import",
            "alpaca-eval",
            "--results-dir",
            str(src),
            "--annotator",
            "nope",
            "--experiment",
            "ae",
            "--into",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "nope/annotations.json" in capsys.readouterr().err
