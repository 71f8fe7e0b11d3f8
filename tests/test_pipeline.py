"""The whole pipeline on a miniature toy world: train, generate, judge, score, re-run."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from harness.cli import main
from harness.scoring import SUMMARY_COLUMNS

CONFIG = """
# Run: alignlab run mini.yaml
experiment: mini
results_dir: {results}
data:
  corpus: {{builder: toy, split: pretrain, params: {{pretrain_docs: 200}}}}
  chat: {{builder: toy, split: sft, params: {{sft_dialogues: 120}}}}
  prefs: {{builder: toy, split: feedback, params: {{feedback_prompts: 80}}}}
base_model:
  name: mini
  build:
    - {{stage: scratch, data: corpus, params: {{vocab_size: 400, hidden_size: 32, intermediate_size: 64,
                                                num_hidden_layers: 1, num_attention_heads: 2,
                                                num_key_value_heads: 2}}}}
    - {{stage: sft, data: corpus, params: {{max_steps: 5, learning_rate: 1.0e-3, max_length: 64}}}}
training:
  sft: {{stage: sft, data: chat, params: {{max_steps: 5, learning_rate: 1.0e-3, max_length: 96}}}}
  dpo: {{stage: dpo, data: prefs, params: {{max_steps: 3, beta: {beta}, learning_rate: 1.0e-4,
                                           max_length: 96}}}}
arms: [{{recipe: base}}, {{recipe: sft}}, {{recipe: sft-dpo}}, {{recipe: dpo}}]
benchmarks:
  - {{name: toy_mt_bench, params: {{n_questions: 4, max_new_tokens: 8}}}}
  - {{name: toy_alpaca_eval, params: {{n_items: 4, max_new_tokens: 8}}}}
judge: {{name: toy_rubric}}
generator: {{name: hf, params: {{batch_size: 8}}}}
"""


def run(tmp_path, beta, capsys):
    cfg = tmp_path / "mini.yaml"
    cfg.write_text(textwrap.dedent(CONFIG.format(results=tmp_path / "results", beta=beta)))
    assert main(["run", str(cfg)]) == 0
    out = capsys.readouterr().out
    log = json.loads((tmp_path / "results" / "mini" / "run.json").read_text())["stages"]
    return out, {(s["kind"], s["label"]) for s in log if s["status"] == "ran"}


@pytest.mark.slow
def test_tiny_pipeline_and_beta_change(tmp_path, capsys):
    out, ran = run(tmp_path, 0.1, capsys)
    assert ("train", "mini+sft") in ran and ("train", "mini+sft+dpo") in ran
    assert "toy_mt_bench" in out and "toy_alpaca_eval" in out  # the table was printed

    df = pd.read_csv(tmp_path / "results" / "mini" / "summary.csv")
    assert list(df.columns) == SUMMARY_COLUMNS
    assert set(df.model) == {"base", "sft", "sft-dpo", "dpo"}
    assert set(df.recipe) == {"base", "sft", "sft-dpo", "dpo"}
    heads = df[df.metric.isin(["score", "win_rate"])]
    assert (
        len(heads) == 8
        and (heads.ci_low <= heads.value).all()
        and (heads.value <= heads.ci_high).all()
    )
    assert not df.duplicated(["model", "benchmark", "metric"]).any()
    assert (df.judge == "toy-rubric-v1").all() or df.judge.nunique() == 1
    gen = next((tmp_path / "results" / "mini" / "stages").glob("generate-*/manifest.json"))
    described = json.loads(gen.read_text())["generator"]
    assert (
        len(described["chat_template_sha256"]) == 64
        and "<|assistant|>" in described["rendered_example"]
    )
    assert (tmp_path / "results" / "mini" / "report.md").read_text().startswith("# mini")
    paired = pd.read_csv(tmp_path / "results" / "mini" / "paired.csv")
    assert len(paired) == 2 * 6  # every pair of the 4 arms, on both benchmarks
    assert ("sft-dpo", "sft") in set(zip(paired.model_a, paired.model_b, strict=True))
    assert (paired.p_holm >= paired.p_value).all()

    out, ran = run(tmp_path, 0.01, capsys)
    assert ran == {
        ("train", "mini+dpo"),
        ("train", "mini+sft+dpo"),
        ("generate", "dpo.toy_mt_bench"),
        ("generate", "dpo.toy_alpaca_eval"),
        ("generate", "sft-dpo.toy_mt_bench"),
        ("generate", "sft-dpo.toy_alpaca_eval"),
        ("judge", "dpo.toy_mt_bench"),
        ("judge", "dpo.toy_alpaca_eval"),
        ("judge", "sft-dpo.toy_mt_bench"),
        ("judge", "sft-dpo.toy_alpaca_eval"),
    }
    assert "reused" in out and "ran" in out
