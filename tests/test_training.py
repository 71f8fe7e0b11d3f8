"""The sft and dpo stages train real (tiny) models through TRL, in one or two processes."""

from __future__ import annotations

import json

import pytest

from harness.training import launch, run_stage
from tests.tiny import make_tiny_chat_model

MSGS = [
    [
        {"role": "user", "content": f"What is {a} plus {b}?"},
        {"role": "assistant", "content": f"The answer is {a + b}."},
    ]
    for a in range(6)
    for b in range(6)
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import datasets

    root = tmp_path_factory.mktemp("train")
    make_tiny_chat_model(root / "base")
    datasets.Dataset.from_list([{"messages": m} for m in MSGS]).save_to_disk(root / "sft")
    prefs = [
        {
            "prompt": m[0]["content"],
            "chosen": m,
            "rejected": [m[0], {"role": "assistant", "content": "I cannot help with that."}],
        }
        for m in MSGS
    ]
    datasets.Dataset.from_list(prefs).save_to_disk(root / "prefs")
    return root


def weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def spec(root, stage, data, out, params, model="base"):
    return {
        "stage": stage,
        "params": params,
        "model": str(root / model),
        "reference_model": str(root / model),
        "data_dir": str(root / data),
        "output_dir": str(root / out),
        "seed": 0,
    }


def test_sft_stage_trains_and_saves(setup):
    steps = []
    res = run_stage(
        spec(
            setup,
            "sft",
            "sft",
            "sft_out",
            {
                "learning_rate": 1e-3,
                "max_steps": 4,
                "per_device_train_batch_size": 4,
                "max_length": 64,
            },
        ),
        progress=steps.append,
    )
    assert res["steps"] == 4 and sum(steps) == 4
    before, after = weights(setup / "base"), weights(setup / "sft_out")
    assert any(not (before[k] == after[k]).all() for k in before)
    assert (setup / "sft_out" / "tokenizer.json").exists()


def test_dpo_stage_moves_policy_towards_chosen(setup):
    res = run_stage(
        spec(
            setup,
            "dpo",
            "prefs",
            "dpo_out",
            {
                "learning_rate": 1e-3,
                "max_steps": 8,
                "per_device_train_batch_size": 8,
                "beta": 0.1,
                "max_length": 64,
                "logging_steps": 1,
            },
        )
    )
    margins = [float(h["rewards/margins"]) for h in res["log"] if "rewards/margins" in h]
    assert res["steps"] == 8 and len(margins) == 8
    # step 1 compares the policy with itself (margin 0); training widens the chosen-rejected gap
    assert abs(margins[0]) < 1e-3 and margins[-1] > 0.1


def test_chat_template_from_config_is_saved(setup):
    tpl = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}{% endfor %}"
    s = spec(
        setup,
        "sft",
        "sft",
        "tpl_out",
        {"max_steps": 1, "per_device_train_batch_size": 2, "max_length": 32},
    )
    s["chat_template"] = tpl
    run_stage(s)
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(setup / "tpl_out").chat_template == tpl


@pytest.mark.slow
def test_sft_with_two_cpu_processes(setup, tmp_path):
    s = spec(
        setup,
        "sft",
        "sft",
        "ddp_out",
        {"learning_rate": 1e-3, "max_steps": 3, "per_device_train_batch_size": 2, "max_length": 64},
    )
    s["num_processes"] = 2
    res = launch(s, tmp_path, accelerate_config=None, cpu=True)
    assert res["num_processes"] == 2 and res["steps"] == 3
    assert (setup / "ddp_out" / "model.safetensors").exists()
    assert "rank1" in (tmp_path / "launch.log").read_text() or json.dumps(res)
