"""MT-Bench end to end: a tiny model answers all 80 questions, a local server plays the judge."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from tests.judge_server import Fail, FakeJudgeServer
from tests.tiny import make_tiny_chat_model

KEY = "sk-test-SECRET-0123456789abcdefghij"

CONFIG = """
experiment: mtb
results_dir: {results}
base_model: {{name: tiny, path: {model}}}
arms: [{{recipe: base, name: tiny}}]
benchmarks:
  - {{name: mt_bench, params: {{data_dir: {data}, max_new_tokens: 8}}}}
judge:
  name: openai
  params: {{base_url: {url}, model: gpt-4, api_key_env: ALIGNLAB_TEST_KEY, concurrency: 4,
           initial_backoff_s: 0.01, max_backoff_s: 0.05}}
generator: {{name: hf, params: {{batch_size: 32}}}}
"""


@pytest.fixture
def setup(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("ALIGNLAB_TEST_KEY", KEY)
    model = make_tiny_chat_model(tmp_path / "model")
    server = FakeJudgeServer(
        reply=lambda body: f"Fine answer. Rating: [[{len(body['messages'][1]['content']) % 9 + 1}]]"
    )
    with server:
        cfg = tmp_path / "mtb.yaml"
        cfg.write_text(
            textwrap.dedent(
                CONFIG.format(
                    results=tmp_path / "results",
                    model=model,
                    data=data_dir / "fastchat",
                    url=server.base_url,
                )
            )
        )
        yield cfg, server, tmp_path / "results" / "mtb"


def no_key_anywhere(root: Path) -> None:
    for f in root.rglob("*"):
        if f.is_file():
            assert KEY not in f.read_text(errors="ignore"), f


@pytest.mark.slow
def test_first_run_judges_160_then_rerun_sends_nothing(setup, capsys):
    cfg, server, root = setup
    server.script(429, 429, 500)  # retried, then they succeed
    assert main(["run", str(cfg)]) == 0
    assert server.n_requests == 160 + 3
    df = pd.read_csv(root / "summary.csv")
    score = df[df.metric == "score"].iloc[0]
    assert score.n == 160 and score.n_failed == 0 and score.judge == "gpt-4"
    assert score.ci_low <= score.value <= score.ci_high
    assert {"score_turn1", "score_turn2", "score_writing", "score_math"} <= set(df.metric)
    answers = [
        json.loads(x)
        for x in next(root.glob("stages/generate-*/answers.jsonl")).read_text().splitlines()
    ]
    assert len(answers) == 80 and all(len(a["answers"]) == 2 for a in answers)

    native = root / "evaluations" / "native" / "mt_bench" / "mt_bench"
    fc_answers = [
        json.loads(x) for x in (native / "model_answer" / "tiny.jsonl").read_text().splitlines()
    ]
    assert [a["question_id"] for a in fc_answers] == list(range(81, 161))
    assert all(a["model_id"] == "tiny" and len(a["choices"][0]["turns"]) == 2 for a in fc_answers)
    fc_judgments = (native / "model_judgment" / "gpt-4_single.jsonl").read_text().splitlines()
    assert len(fc_judgments) == 160 and json.loads(fc_judgments[0])["model"] == "tiny"

    assert main(["run", str(cfg)]) == 0
    assert server.n_requests == 163  # nothing new sent
    no_key_anywhere(root)
    assert KEY not in capsys.readouterr().out


@pytest.mark.slow
def test_401_stops_clearly_and_keeps_what_was_judged(setup, capsys):
    cfg, server, root = setup
    server.script(*([None] * 50))
    server.fail_always(401, "Incorrect API key provided")
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "401" in err and "ALIGNLAB_TEST_KEY" in err and KEY not in err
    sent_first = server.n_requests
    assert not list(root.glob("stages/judge-*"))  # the judging stage did not complete

    server.heal()
    server.script(*([None] * 100), *([Fail(400, "bad", code="context_length_exceeded")] * 10))
    assert main(["run", str(cfg)]) == 0
    assert server.n_requests - sent_first == 160 - 50  # only the missing judgments
    df = pd.read_csv(root / "summary.csv")
    score = df[df.metric == "score"].iloc[0]
    assert score.n == 150 and score.n_failed == 10  # counted, not averaged away
    out = capsys.readouterr().out
    assert "judged 150 of 160" in out and "judged 150 of 160" in (root / "report.md").read_text()
    no_key_anywhere(root)


@pytest.mark.slow
def test_dry_run_estimates_and_sends_nothing(setup, capsys, data_dir, monkeypatch):
    cfg, server, root = setup
    text = cfg.read_text().replace("concurrency: 4,", "concurrency: 4, dry_run: true,")
    cfg.write_text(text.replace(f"data_dir: {data_dir / 'fastchat'}, ", ""))  # from --data-dir
    assert "data_dir" not in cfg.read_text()
    monkeypatch.delenv("ALIGNLAB_DATA_DIR")
    assert main(["run", str(cfg), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "would send 160 requests" in out and "cost up to $" in out
    assert server.n_requests == 0
    assert not list(root.glob("stages/judge-*"))  # nothing recorded as judged
    assert list(root.glob("stages/generate-*"))  # the answers are kept for the real run
