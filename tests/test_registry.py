"""Plugin discovery: built-ins and third-party plugins register through entry points alike."""

from __future__ import annotations

import sys
import textwrap

import pytest

from harness import registry
from harness.cli import main
from harness.errors import RegistryError


def test_builtins_are_registered_with_docs():
    recipes = {name: doc for name, doc, _ in registry.describe("recipe")}
    assert set(recipes) >= {"base", "sft", "sft-dpo", "dpo", "sft-sft"}
    assert all(doc and doc != "(no description)" for doc in recipes.values())
    assert {"sft", "dpo"} <= set(registry.available("stage"))


def test_unknown_name_lists_what_exists_and_suggests_closest():
    with pytest.raises(RegistryError) as info:
        registry.load("recipe", "sft_dpo")
    msg = str(info.value)
    assert "did you mean 'sft-dpo'?" in msg
    for name in ("base", "sft", "dpo", "sft-sft"):
        assert name in msg


def test_listing_does_not_import_plugins(external_plugin):
    assert "echo" in registry.available("recipe")
    assert "extplug" not in sys.modules  # found through metadata only
    registry.load("recipe", "echo")
    assert "extplug" in sys.modules


def test_broken_plugin_is_reported_as_broken(tmp_path, monkeypatch):
    site = tmp_path / "site2"
    dist = site / "broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[alignlab.judges]\nbroken = no_such_module_xyz:Judge\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(RegistryError, match="failed to import.*no_such_module_xyz"):
        registry.load("judge", "broken")


def test_list_command_prints_every_plugin_with_doc(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("sft-dpo", "sft-sft", "toy_mt_bench", "toy_alpaca_eval", "toy_rubric"):
        assert name in out
    assert "dSFT then dDPO" in out


def test_external_plugins_run_end_to_end(external_plugin, tmp_path):
    """A recipe, benchmark and judge from another distribution drive a real run."""
    from tests.tiny import make_tiny_chat_model

    model = make_tiny_chat_model(tmp_path / "model")
    cfg = tmp_path / "ext.yaml"
    cfg.write_text(
        textwrap.dedent(f"""
        experiment: ext
        results_dir: {tmp_path / "results"}
        base_model: {{path: {model}}}
        arms: [{{recipe: echo}}]
        benchmarks: [{{name: length}}]
        judge: {{name: word_counter}}
        generator: {{name: hf, params: {{batch_size: 2}}}}
    """)
    )
    assert main(["run", str(cfg)]) == 0
    import pandas as pd

    df = pd.read_csv(tmp_path / "results" / "ext" / "summary.csv")
    row = df[(df.model == "echo") & (df.metric == "score")].iloc[0]
    answers = (tmp_path / "results" / "ext" / "stages").glob("generate-*/answers.jsonl")
    import json

    rows = [json.loads(x) for f in answers for x in f.read_text().splitlines()]
    expected = sum(len(r["answers"][0].split()) for r in rows) / len(rows)
    assert row["value"] == pytest.approx(expected)
    assert row["judge"] == "word-counter" and row["recipe"] == "echo"
