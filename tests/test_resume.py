"""Runs resume: a SIGKILLed run restarts, keeps finished stages, and leaves nothing corrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

CONFIG = """
experiment: killme
results_dir: {results}
data:
  chat: {{path: {data}}}
base_model:
  name: mini
  build:
    - {{stage: scratch, data: chat, params: {{vocab_size: 300, hidden_size: 32, intermediate_size: 64,
                                              num_hidden_layers: 1, num_attention_heads: 2,
                                              num_key_value_heads: 2}}}}
training:
  sft: {{stage: sft, data: chat, params: {{learning_rate: 1.0e-3, max_steps: {steps},
                                          per_device_train_batch_size: 4, max_length: 48}}}}
arms: [{{recipe: base}}, {{recipe: echo}}, {{recipe: sft}}]
benchmarks: [{{name: length}}]
judge: {{name: word_counter}}
generator: {{name: hf, params: {{batch_size: 2}}}}
"""


def write(tmp_path: Path, steps: int) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Add {a} and {b}."},
                {"role": "assistant", "content": f"The sum is {a + b}."},
            ]
        }
        for a in range(10)
        for b in range(10)
    ]
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "killme.yaml"
    cfg.write_text(
        textwrap.dedent(CONFIG.format(results=tmp_path / "results", data=data, steps=steps))
    )
    return cfg


def cli(cfg: Path, site: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for(pred, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_sigkill_mid_training_then_resume(tmp_path, external_plugin):
    cfg = write(tmp_path, steps=4000)
    stages = tmp_path / "results" / "killme" / "stages"
    proc = cli(cfg, external_plugin)
    in_sft = lambda: any(p.name.startswith("train-mini_sft") for p in (stages / ".tmp").glob("*"))  # noqa: E731
    assert wait_for(in_sft, 120), (
        proc.communicate()[0] if proc.poll() is not None else "no sft stage"
    )
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name for p in stages.iterdir() if p.name != ".tmp"}
    assert not any(
        n.startswith("train-mini_sft") for n in before
    )  # the killed stage left no artifact
    assert any(n.startswith("train-mini") for n in before)  # the finished base model is there

    out = cli(cfg, external_plugin).communicate(timeout=600)[0]
    run = json.loads((tmp_path / "results" / "killme" / "run.json").read_text())
    status = {s["dirname"]: s["status"] for s in run["stages"]}
    assert all(status[n] == "reused" for n in before), out
    assert any(n.startswith("train-mini_sft") and s == "ran" for n, s in status.items())
    for d in stages.iterdir():
        if d.name == ".tmp":
            assert list(d.iterdir()) == []
            continue
        json.loads((d / "manifest.json").read_text())  # every stage folder is complete
    from transformers import AutoModelForCausalLM

    for d in stages.glob("train-*"):
        AutoModelForCausalLM.from_pretrained(d / "model")  # loads: not corrupt


@pytest.mark.slow
def test_second_run_reuses_everything(tmp_path, external_plugin):
    cfg = write(tmp_path, steps=20)
    t0 = time.time()
    first = cli(cfg, external_plugin).communicate(timeout=600)[0]
    t1 = time.time()
    second = cli(cfg, external_plugin).communicate(timeout=600)[0]
    t2 = time.time()
    run = json.loads((tmp_path / "results" / "killme" / "run.json").read_text())
    assert run["stages"] and all(s["status"] == "reused" for s in run["stages"]), second
    assert "0 ran" in second and "ran " in first
    assert (t2 - t1) < (t1 - t0)
