"""The plan: content-keyed stages, sharing between arms, and exactly-downstream invalidation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from harness.config import load_experiment
from harness.plan import build_plan

CONFIG = """
experiment: planned
data:
  chat: {{path: chat.jsonl}}
  prefs: {{path: prefs.jsonl}}
base_model: {{path: some/base}}
training:
  sft: {{stage: sft, data: chat, params: {{learning_rate: 1.0e-5}}}}
  dpo: {{stage: dpo, data: prefs, params: {{beta: {beta}}}}}
  sft2: {{stage: sft, data: prefs}}
arms: [{{recipe: base}}, {{recipe: sft}}, {{recipe: sft-dpo}}, {{recipe: dpo}}, {{recipe: sft-sft}}]
benchmarks: [{{name: length}}]
judge: {{name: word_counter}}
"""


def make(tmp_path: Path, beta: float = 0.1, rows: int = 1):
    msg = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    (tmp_path / "chat.jsonl").write_text(json.dumps({"messages": msg}) + "\n")
    pref = {"prompt": "q", "chosen": msg, "rejected": msg}
    (tmp_path / "prefs.jsonl").write_text((json.dumps(pref) + "\n") * rows)
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(textwrap.dedent(CONFIG.format(beta=beta)))
    return build_plan(load_experiment(cfg))


def train_nodes(plan):
    return {n.label: n.key for n in plan.of_kind("train")}


@pytest.fixture(autouse=True)
def _plugins(external_plugin):
    return external_plugin


def test_shared_stages_run_once(tmp_path):
    plan = make(tmp_path)
    # sft (shared by sft, sft-dpo, sft-sft), dpo<-sft, dpo<-base, sft2<-sft
    assert sorted(train_nodes(plan)) == ["base+dpo", "base+sft", "base+sft+dpo", "base+sft+sft2"]
    assert plan.arms["sft"].node == plan.nodes[plan.arms["sft-dpo"].node].spec["parent"]["node"]
    assert len(plan.of_kind("generate")) == 5 and len(plan.of_kind("judge")) == 5


def test_changing_beta_changes_only_dpo_and_downstream(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = make(tmp_path / "a", beta=0.1), make(tmp_path / "b", beta=0.01)
    ta, tb = train_nodes(a), train_nodes(b)
    changed = {k for k in ta if ta[k] != tb[k]}
    assert changed == {"base+dpo", "base+sft+dpo"}
    gen = lambda p: {e.arm: (e.generate, e.judge) for e in p.evaluations}  # noqa: E731
    ga, gb = gen(a), gen(b)
    assert {arm for arm in ga if ga[arm] != gb[arm]} == {"sft-dpo", "dpo"}


def test_data_content_is_part_of_the_key(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = make(tmp_path / "a", rows=1), make(tmp_path / "b", rows=2)
    ta, tb = train_nodes(a), train_nodes(b)
    assert ta["base+sft"] == tb["base+sft"]  # its data did not change
    assert ta["base+dpo"] != tb["base+dpo"] and ta["base+sft+sft2"] != tb["base+sft+sft2"]


def test_keys_are_stable_and_versions_recorded(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = make(tmp_path / "a"), make(tmp_path / "b")
    assert list(train_nodes(a).values()) == list(train_nodes(b).values())
    node = a.of_kind("train")[0]
    assert {"torch", "transformers", "trl"} <= set(node.spec["versions"])
    kinds = [n.kind for n in a.nodes.values()]
    assert kinds == sorted(kinds, key=["data", "train", "generate", "judge"].index)
