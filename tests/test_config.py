"""Bad input gets a short error naming the file and key, every problem at once, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import Experiment
from harness.errors import ConfigError
from harness.validate import validate_file


def write_config(tmp_path: Path, body: str, name: str = "exp.yaml") -> Path:
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    ]
    (tmp_path / "chat.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "plain.jsonl").write_text(json.dumps({"body": "no expected column"}) + "\n")
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
    # Run: alignlab run exp.yaml
    experiment: good
    data:
      chat: {path: chat.jsonl}
    base_model: {path: some/model}
    training:
      sft: {stage: sft, data: chat, params: {learning_rate: 1.0e-5}}
    arms: [{recipe: base}, {recipe: sft}]
    judge: {name: toy_rubric}
"""


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_good_config_validates(tmp_path, capsys):
    code, out = run_cli(["validate", str(write_config(tmp_path, GOOD))], capsys)
    assert code == 0 and "ok" in out


def test_unknown_recipe_names_file_key_and_suggestion(tmp_path, capsys):
    cfg = write_config(tmp_path, GOOD.replace("{recipe: sft}]", "{recipe: sft-dop}]"))
    code, out = run_cli(["validate", str(cfg)], capsys)
    assert code == 2
    assert f"{cfg}: arms.1.recipe" in out
    assert "unknown recipe 'sft-dop'" in out and "did you mean 'sft-dpo'?" in out
    assert "Traceback" not in out


def test_missing_dataset_column(tmp_path, capsys):
    cfg = write_config(
        tmp_path, GOOD.replace("chat: {path: chat.jsonl}", "chat: {path: plain.jsonl}")
    )
    code, out = run_cli(["run", str(cfg)], capsys)
    assert code == 2
    assert f"{cfg}: data.chat" in out
    assert "'body'" in out and "messages" in out  # what it has and what it needs


def test_negative_learning_rate(tmp_path, capsys):
    cfg = write_config(tmp_path, GOOD.replace("learning_rate: 1.0e-5", "learning_rate: -1.0e-5"))
    code, out = run_cli(["validate", str(cfg)], capsys)
    assert code == 2
    assert f"{cfg}: training.sft.params.learning_rate" in out
    assert "greater than 0" in out


def test_unreadable_yaml(tmp_path, capsys):
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("experiment: x\narms: [ {recipe: sft\n")
    code, out = run_cli(["validate", str(cfg)], capsys)
    assert code == 2
    assert str(cfg) in out and "not valid YAML (line" in out


def test_several_problems_reported_together(tmp_path):
    body = GOOD.replace("{recipe: base}", "{recipe: nope}").replace(
        "learning_rate: 1.0e-5", "learning_rate: 0"
    )
    cfg = write_config(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        validate_file(cfg)
    keys = {p.key for p in info.value.problems}
    assert {"arms.0.recipe", "training.sft.params.learning_rate"} <= keys


def test_schema_error_is_reported_before_plugins(tmp_path):
    cfg = write_config(tmp_path, textwrap.dedent(GOOD) + "learning_rate: 3\n")
    with pytest.raises(ConfigError) as info:
        validate_file(cfg)
    assert [p.key for p in info.value.problems] == ["learning_rate"]
    assert "unknown key" in info.value.problems[0].message


def test_recipe_role_missing_from_training(tmp_path):
    cfg = write_config(tmp_path, GOOD.replace("{recipe: sft}]", "{recipe: sft-dpo}]"))
    with pytest.raises(
        ConfigError, match=r"arms\.1\.recipe: recipe 'sft-dpo' needs a `training.dpo`"
    ):
        validate_file(cfg)


def test_cli_error_has_no_traceback(tmp_path):
    cfg = write_config(tmp_path, GOOD.replace("{recipe: sft}]", "{recipe: nope}]"))
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", str(cfg)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "arms.1.recipe" in proc.stderr


def test_every_field_has_a_description():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            ann = field.annotation
            for sub in getattr(ann, "__args__", ()) + (ann,):
                if isinstance(sub, type) and hasattr(sub, "model_fields") and sub is not model:
                    walk(sub)

    walk(Experiment)


def test_configs_start_with_the_command_that_runs_them():
    for cfg in (Path(__file__).parent.parent / "configs").glob("*.yaml"):
        first = cfg.read_text().splitlines()[0]
        assert first.startswith("#"), cfg
        assert (
            f"alignlab run configs/{cfg.name}" in cfg.read_text().split("\n\n")[0]
            or "alignlab" in first
        ), cfg


AE_CONFIG = """
experiment: ae
base_model: {{path: some/model}}
arms: [{{recipe: base}}]
benchmarks:
  - {{name: alpaca_eval, params: {{annotator: {bench}}}}}
judge: {{name: {judge}, params: {params}}}
"""


@pytest.mark.parametrize(
    ("bench", "judge", "params", "fragment"),
    [
        (
            "alpaca_eval_gpt4",
            "alpaca_eval",
            "{annotator: alpaca_eval_gpt4_turbo_fn}",
            "set both to the same annotator",
        ),
        (
            "weighted_alpaca_eval_gpt4_turbo",
            "openai",
            "{model: gpt-4-1106-preview}",
            "parses token logprobs",
        ),
    ],
)
def test_benchmark_and_judge_that_cannot_work_together(
    tmp_path, data_dir, bench, judge, params, fragment
):
    cfg = tmp_path / "ae.yaml"
    cfg.write_text(textwrap.dedent(AE_CONFIG.format(bench=bench, judge=judge, params=params)))
    with pytest.raises(ConfigError) as info:
        validate_file(cfg)
    assert [p.key for p in info.value.problems] == ["judge"]
    assert fragment in info.value.problems[0].message


def test_matching_alpaca_eval_judge_validates(tmp_path, data_dir):
    cfg = tmp_path / "ae.yaml"
    cfg.write_text(
        textwrap.dedent(
            AE_CONFIG.format(
                bench="alpaca_eval_gpt4",
                judge="alpaca_eval",
                params="{annotator: alpaca_eval_gpt4}",
            )
        )
    )
    assert validate_file(cfg).benchmarks[0].name == "alpaca_eval"


def test_reproduces_names_a_table_its_rows_and_this_runs_arms(tmp_path):
    good = GOOD + "    reproduces: {table: zephyr_table3, rows: {sft: mistral-7b-v0.1/sft}}\n"
    assert validate_file(write_config(tmp_path, good)).reproduces.rows == {
        "sft": "mistral-7b-v0.1/sft"
    }
    bad = GOOD + (
        "    reproduces: {table: zephyr_table3, rows: {sft-dpo: mistral-7b-v0.1/sft,"
        " sft: mistral-7b/sft}, benchmarks: {mt_bench: mt_bench}}\n"
    )
    with pytest.raises(ConfigError) as info:
        validate_file(write_config(tmp_path, bad))
    messages = {p.key: p.message for p in info.value.problems}
    assert "no arm named 'sft-dpo'" in messages["reproduces.rows.sft-dpo"]
    assert "no model 'mistral-7b/sft'" in messages["reproduces.rows.sft"]
    assert "no benchmark 'mt_bench'" in messages["reproduces.benchmarks.mt_bench"]
    missing = GOOD + "    reproduces: {table: zephyr_table9, rows: {}}\n"
    with pytest.raises(ConfigError) as info:
        validate_file(write_config(tmp_path, missing))
    assert "no leaderboard table 'zephyr_table9'" in str(info.value)


@pytest.mark.parametrize("judge", ["toy_rubric", "alpaca_eval"])
def test_mt_bench_refuses_judges_that_cannot_grade_it(tmp_path, judge):
    cfg = tmp_path / "mt.yaml"
    cfg.write_text(
        "experiment: mt\nbase_model: {path: some/model}\narms: [{recipe: base}]\n"
        f"benchmarks: [{{name: mt_bench}}]\njudge: {{name: {judge}}}\n"
    )
    with pytest.raises(ConfigError) as info:
        validate_file(cfg)
    assert [p.key for p in info.value.problems] == ["judge"]
    assert f"the {judge!r} judge cannot grade MT-Bench" in info.value.problems[0].message
    assert "Use the `openai` judge" in info.value.problems[0].message
    cfg.write_text(
        cfg.read_text().replace(f"name: {judge}", "name: openai, params: {model: gpt-4}")
    )
    assert validate_file(cfg).judge.name == "openai"
