"""The ``alpaca_eval`` benchmark plugin: params, items, outputs, scoring of judge-plugin replies."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from harness.api import Benchmark, JudgeResult
from plugins.benchmarks.alpaca_eval import AlpacaEval, AlpacaEvalParams
from plugins.benchmarks.alpaca_eval.compat import alpaca_eval_module

REL_V1 = "results/text_davinci_003/model_outputs.json"


@pytest.fixture
def folder(data_dir: Path) -> Path:
    path = data_dir / "alpaca_eval"
    if not (path / REL_V1).is_file():
        pytest.skip(f"{path / REL_V1} is missing from ALIGNLAB_DATA_DIR")
    return path


def bench_for(folder: Path, **params: object) -> AlpacaEval:
    return AlpacaEval(AlpacaEvalParams(data_dir=str(folder), **params))  # type: ignore[arg-type]


def test_it_is_a_benchmark_plugin_with_a_one_line_doc() -> None:
    bench = AlpacaEval()
    assert isinstance(bench, Benchmark)
    assert bench.headline == "win_rate"
    assert AlpacaEval.__doc__ is not None and AlpacaEval.__doc__.startswith("AlpacaEval 1/2")
    assert bench.version == "alpaca_eval1@cd543a1:text_davinci_003"
    v2 = AlpacaEval(AlpacaEvalParams(version="2"))
    assert v2.version == "alpaca_eval2@cd543a1:gpt4_1106_preview"


def test_params_have_the_zephyr_decoding_defaults_and_reject_unknown_keys() -> None:
    p = AlpacaEvalParams()
    assert (p.temperature, p.top_p, p.max_new_tokens) == (0.7, 1.0, 2048)
    assert (p.version, p.annotator, p.limit, p.data_dir) == ("1", "alpaca_eval_gpt4", None, None)
    for name, field in AlpacaEvalParams.model_fields.items():
        assert field.description, f"{name} has no description"
    with pytest.raises(ValidationError, match="temprature"):
        AlpacaEvalParams(temprature=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AlpacaEvalParams(version="3")  # type: ignore[arg-type]


def test_an_unknown_annotator_is_refused_when_the_params_are_built() -> None:
    with pytest.raises(ValidationError, match="did you mean alpaca_eval_gpt4"):
        AlpacaEvalParams(annotator="alpaca_eval_gpt5")
    assert AlpacaEvalParams(annotator="weighted_alpaca_eval_gpt4_turbo").annotator


def test_items_are_the_805_single_turn_instructions(folder: Path) -> None:
    items = bench_for(folder, temperature=0.0).items()
    reference = json.loads((folder / REL_V1).read_text())
    assert len(items) == 805
    assert [it.turns for it in items] == [[r["instruction"]] for r in reference]
    assert [it.category for it in items] == [r["dataset"] for r in reference]
    assert [it.id for it in items] == [str(i) for i in range(805)]
    assert items[0].decoding.greedy and items[0].decoding.max_new_tokens == 2048


def test_limit_picks_the_subset_alpaca_evals_max_instances_picks(folder: Path) -> None:
    items = bench_for(folder, limit=20).items()
    reference = pd.DataFrame(json.loads((folder / REL_V1).read_text()))
    # alpaca_eval.main.evaluate: outputs.sample(frac=1, random_state=123)[:max_instances]
    theirs = reference.sample(frac=1, random_state=123)[:20]["instruction"]
    assert sorted(it.turns[0] for it in items) == sorted(theirs)
    assert [int(it.id) for it in items] == sorted(int(it.id) for it in items)


def test_model_outputs_file_is_alpaca_evals_format(folder: Path, tmp_path: Path) -> None:
    bench = bench_for(folder)
    items = bench.items()[:3]
    answers = {"0": ["first"], "2": ["third"]}  # item 1 unanswered: left out
    path = bench.write_model_outputs(tmp_path / "model_outputs.json", items, answers, "my-model")
    frame = alpaca_eval_module("alpaca_eval.utils").load_or_convert_to_dataframe(path)
    assert list(frame["output"]) == ["first", "third"]
    assert list(frame["instruction"]) == [items[0].turns[0], items[2].turns[0]]
    assert set(frame["generator"]) == {"my-model"}
    assert list(frame["dataset"]) == [items[0].category, items[2].category]


def test_score_counts_every_kind_of_missing_judgment(folder: Path) -> None:
    bench = bench_for(folder)
    items = bench.items()[:5]
    answers = {"0": ["GOOD"], "1": ["GOOD"], "2": ["GOOD"], "3": ["GOOD"]}  # 4: no answer
    requests = {r.id: r for r in bench.judge_requests(items, answers)}
    assert sorted(requests) == ["0", "1", "2", "3"]

    def model_wins(item_id: str) -> str:
        # alpaca_eval shows the model's output as model_1 when it switched the order
        model = "model_1" if requests[item_id].payload["switched"] else "model_2"
        other = "model_2" if model == "model_1" else "model_1"
        return f"[{{'model': '{model}', 'rank': 1}}, {{'model': '{other}', 'rank': 2}}]"

    judgments = [
        JudgeResult("0", model_wins("0")),
        JudgeResult("1", None, error="HTTP 500 after 6 retries"),
        JudgeResult("2", "I cannot decide."),
        # "3": no judgment at all
    ]
    score = bench.score(items, answers, judgments)
    assert score.per_item == {"0": 1.0}
    errors = {r["id"]: r["error"] for r in score.records}
    assert errors["0"] is None
    assert errors["1"] == "HTTP 500 after 6 retries"
    assert "not parsable" in errors["2"]
    assert errors["3"] == "no judgment"
    assert errors["4"] == "no model answer"
    win_rate = next(m for m in score.metrics if m.metric == "win_rate")
    assert (win_rate.value, win_rate.n, win_rate.n_failed) == (100.0, 1, 4)


def test_works_with_datasets_5_without_dataset_scripts(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    assert int(datasets.__version__.split(".")[0]) >= 4  # dataset scripts are unsupported there

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no datasets loading (scripts are gone in datasets>=4)")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    monkeypatch.setattr(datasets, "load_dataset_builder", refuse)
    bench = bench_for(folder, limit=3)
    items = bench.items()
    requests = bench.judge_requests(items, {it.id: ["an answer"] for it in items})
    assert len(items) == len(requests) == 3
    assert "an answer" in requests[0].messages[-1]["content"]
