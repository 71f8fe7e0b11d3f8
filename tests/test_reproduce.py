"""`alignlab reproduce zephyr-table1`: the paper's Table 1 beside numbers recomputed from per-item data."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.leaderboards import LEADERBOARD_DIR

TABLE = "zephyr-table1"
ANNOTATIONS = Path("alpaca_eval", "results", "{key}", "alpaca_eval_gpt4", "annotations.json")
JUDGMENTS = Path("mt_bench", "model_judgment", "gpt-4_single.jsonl")


def _paper_rows() -> list[dict[str, str]]:
    """The Table 1 rows of the committed CSV, read without alignlab."""
    with (LEADERBOARD_DIR / "zephyr_table1.csv").open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if "Table 1" in r["source"]]


def _alpaca_eval_keys() -> dict[str, str]:
    with (LEADERBOARD_DIR / "alpaca_eval_models.csv").open(newline="") as fh:
        return {r["model"]: r["alpaca_eval_key"] for r in csv.DictReader(fh)}


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["reproduce", TABLE, *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _row(out: dict[str, Any], model: str, benchmark: str) -> dict[str, Any]:
    hits = [r for r in out["rows"] if r["model"] == model and r["benchmark"] == benchmark]
    assert len(hits) == 1, (model, benchmark, len(hits))
    return hits[0]


def _win_rate(path: Path) -> tuple[float, float, int, int]:
    """AlpacaEval 1's win rate and standard error from raw preferences (1 = reference wins,
    2 = model wins, 1.5 or the legacy 0 = draw, null = not annotated), computed here with
    the plain formulas; also n and draws."""
    prefs = [r["preference"] for r in json.loads(path.read_text())]
    present = [1.5 if p == 0 else float(p) for p in prefs if p is not None]
    wins = [p - 1.0 for p in present]
    n = len(wins)
    mean = sum(wins) / n
    sd = math.sqrt(sum((w - mean) ** 2 for w in wins) / (n - 1))
    return 100 * mean, 100 * sd / math.sqrt(n), n, sum(p == 1.5 for p in present)


# ---------------------------------------------------------------------------- real data


def test_prints_zephyr_alpaca_eval_recomputed_beside_the_papers(data_dir, capsys):
    code = main(["reproduce", TABLE, "--data-dir", str(data_dir)])
    out = capsys.readouterr().out
    assert code == 0
    lines = [x for x in out.splitlines() if x.startswith("zephyr-7b-beta") and "alpaca_eval" in x]
    assert len(lines) == 1, out
    # the paper's 90.60 ± 1.03, then the recomputed one, then the difference within rounding
    assert lines[0].count("90.60 ± 1.03") == 2 and "✓" in lines[0], lines[0]
    assert "alpaca_eval_gpt4/annotations.json" in out and "annotated 803 of 805" in out
    # rows without data are still listed with the paper's value
    assert any(x.startswith("llama-2-70b-chat") and "92.66 ± 0.91" in x for x in out.splitlines())


def test_json_has_every_row_and_recomputes_what_the_data_holds(data_dir, capsys):
    code, out = _run_json(capsys, "--data-dir", str(data_dir))
    assert code == 0
    assert out["table"] == TABLE and out["tolerance"] == 0.005
    paper = _paper_rows()
    assert [(r["model"], r["benchmark"]) for r in out["rows"]] == [
        (r["model"], r["benchmark"]) for r in paper
    ]
    keys = _alpaca_eval_keys()
    for row, ref in zip(out["rows"], paper, strict=True):
        assert row["paper_value"] == float(ref["value"])
        has_data = (
            row["benchmark"] == "alpaca_eval"
            and (data_dir / str(ANNOTATIONS).format(key=keys[row["model"]])).is_file()
        )
        if has_data:
            assert row["status"] == "recomputed"
        else:
            assert row["status"].startswith(f"no public per-item data in {data_dir.resolve()}")
            assert row["recomputed_value"] is None and row["needed"]
    assert out["recomputed"] == sum(r["status"] == "recomputed" for r in out["rows"]) >= 1


def test_zephyr_win_rate_equals_the_plain_formula_over_its_annotations(data_dir, capsys):
    _, out = _run_json(capsys, "--data-dir", str(data_dir))
    row = _row(out, "zephyr-7b-beta", "alpaca_eval")
    path = data_dir / str(ANNOTATIONS).format(key="zephyr-7b-beta")
    value, se, n, draws = _win_rate(path)
    assert row["recomputed_value"] == pytest.approx(value, abs=1e-9)
    assert row["recomputed_standard_error"] == pytest.approx(se, abs=1e-9)
    assert (row["n"], row["n_draws"]) == (n, draws) and isinstance(row["n"], int)
    assert row["n_failed"] == 805 - n  # AlpacaEval 1 has 805 instructions
    assert (row["paper_value"], row["paper_standard_error"]) == (90.60, 1.03)
    assert row["difference"] == pytest.approx(value - 90.60, abs=1e-12)
    assert row["agrees"] is (abs(value - 90.60) <= 0.005 and abs(se - 1.03) <= 0.005)
    assert row["agrees"] is True  # the paper printed these annotations' numbers
    assert Path(row["data_source"]) == path.resolve()


# ---------------------------------------------------------------------------- MT-Bench judgments


def _judgment(model: str, qid: int, turn: int, score: int) -> dict[str, Any]:
    """A single-grading record in FastChat's model_judgment format."""
    return {
        "question_id": qid,
        "model": model,
        "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
        "user_prompt": f"[Question] q{qid} turn {turn}",
        "judgment": f"Rating: [[{score}]]" if score >= 0 else "no rating given",
        "score": score,
        "turn": turn,
        "tstamp": 1700000000.0,
    }


def _write_judgments(folder: Path, records: list[dict[str, Any]]) -> Path:
    path = folder / JUDGMENTS
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def _random_records(model: str, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = [
        _judgment(model, qid, turn, rng.randint(1, 10)) for qid in range(81, 161) for turn in (1, 2)
    ]
    for r in rng.sample(records, 7):  # the judge gave no rating: show_result drops -1
        if r["turn"] == 2:
            r["score"] = -1
    return records


def test_mt_bench_score_is_the_mean_over_rated_turns(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ALIGNLAB_DATA_DIR", raising=False)
    llama = _random_records("llama-2-70b-chat", seed=1)
    other = _random_records("not-in-table-1", seed=2)
    fastchat = _write_judgments(tmp_path / "fc", llama + other)
    code, out = _run_json(capsys, "--mt-bench-dir", str(fastchat))
    assert code == 0
    rated = [r["score"] for r in llama if r["score"] != -1]
    expected = sum(rated) / len(rated)  # show_result: one mean over all rated turns
    row = _row(out, "llama-2-70b-chat", "mt_bench")
    assert row["status"] == "recomputed"
    assert row["recomputed_value"] == pytest.approx(expected, abs=1e-12)
    assert (row["n"], row["n_failed"]) == (len(rated), len(llama) - len(rated))
    assert row["difference"] == pytest.approx(expected - 6.86, abs=1e-12)
    assert row["agrees"] is (abs(expected - 6.86) <= 0.005)
    assert row["recomputed_ci_low"] < expected < row["recomputed_ci_high"]
    assert Path(row["data_source"]) == (fastchat / JUDGMENTS).resolve()
    gpt4 = _row(out, "gpt-4", "mt_bench")
    assert gpt4["recomputed_value"] is None and "has none" in gpt4["status"]
    ae = _row(out, "llama-2-70b-chat", "alpaca_eval")
    assert ae["recomputed_value"] is None and "pass --data-dir" in ae["status"]


def test_agreement_within_rounding_and_beyond_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ALIGNLAB_DATA_DIR", raising=False)
    # 43 sevens and 7 sixes: 343 / 50 = 6.86, the paper's llama-2-70b-chat score exactly
    agree = [
        _judgment("llama-2-70b-chat", 81 + i // 2, 1 + i % 2, 7 if i < 43 else 6) for i in range(50)
    ]
    agree.append(_judgment("llama-2-70b-chat", 200, 1, -1))  # dropped, not a zero
    # 5 sevens and 5 eights: 7.5 against gpt-4's 8.99
    differ = [_judgment("gpt-4", 81 + i // 2, 1 + i % 2, 7 + i % 2) for i in range(10)]
    fastchat = _write_judgments(tmp_path / "data" / "fastchat", agree + differ)
    code = main(["reproduce", TABLE, "--data-dir", str(tmp_path / "data")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0  # a difference is reported, not an error
    llama = next(x for x in lines if x.startswith("llama-2-70b-chat") and "mt_bench" in x)
    assert llama.split()[2:] == ["6.86", "6.86", "+0.0000", "✓"]
    gpt4 = next(x for x in lines if x.startswith("gpt-4 ") and "mt_bench" in x)
    assert gpt4.split()[2:] == ["8.99", "7.50", "-1.4900", "✗"]
    assert str(fastchat / JUDGMENTS) in "\n".join(lines)


# ---------------------------------------------------------------------------- errors


def test_unknown_table_lists_the_known_ones(capsys):
    assert main(["reproduce", "zephyr-table9", "--data-dir", "."]) == 2
    err = capsys.readouterr().err
    assert "unknown table 'zephyr-table9'" in err and "zephyr-table1" in err


def test_missing_data_dir_is_named(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["reproduce", TABLE, "--data-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err and "--data-dir" in err


def test_no_data_folder_at_all_says_how_to_give_one(capsys, monkeypatch):
    monkeypatch.delenv("ALIGNLAB_DATA_DIR", raising=False)
    assert main(["reproduce", TABLE]) == 2
    assert "pass --data-dir" in capsys.readouterr().err


def test_nothing_recomputable_exits_1_after_listing_what_is_needed(tmp_path, capsys):
    assert main(["reproduce", TABLE, "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "could be recomputed" in captured.err
    assert "alpaca_eval/results/<key>/alpaca_eval_gpt4/annotations.json" in captured.out
    assert "--mt-bench-dir" in captured.out


def test_malformed_annotations_name_the_file(tmp_path, capsys):
    path = tmp_path / str(ANNOTATIONS).format(key="zephyr-7b-beta")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert main(["reproduce", TABLE, "--data-dir", str(tmp_path)]) == 2
    assert str(path) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"question_id": 81, "model": "gpt-4", "judge": ["gpt-4", "single-v1"], "turn": 1},
            "lacks score",
        ),
        ({**_judgment("gpt-4", 81, 1, 5), "score": "5"}, "score '5', not a number"),
    ],
)
def test_malformed_judgments_name_the_file(tmp_path, capsys, monkeypatch, record, message):
    monkeypatch.delenv("ALIGNLAB_DATA_DIR", raising=False)
    fastchat = _write_judgments(tmp_path, [_judgment("gpt-4", 82, 1, 5), record])
    assert main(["reproduce", TABLE, "--mt-bench-dir", str(fastchat)]) == 2
    err = capsys.readouterr().err
    assert str(fastchat / JUDGMENTS) in err and "record 2" in err and message in err


def test_mt_bench_dir_without_judgments_folder(tmp_path, capsys):
    assert main(["reproduce", TABLE, "--mt-bench-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "mt_bench/model_judgment" in err
