"""Toy MT-Bench and toy AlpacaEval: items, judge requests, FastChat / alpaca_eval scoring."""

from __future__ import annotations

import math
import random

import pytest
from pydantic import ValidationError

from harness.api import Benchmark, JudgeResult
from plugins.toy.benchmarks import (
    ToyAlpacaEval,
    ToyAlpacaEvalParams,
    ToyMTBench,
    ToyMTBenchParams,
    item_specs,
    mt_request_id,
)
from plugins.toy.judge import ToyRubricJudge
from plugins.toy.students import answer
from plugins.toy.world import CATEGORIES


@pytest.fixture(scope="module")
def mt() -> ToyMTBench:
    return ToyMTBench()


@pytest.fixture(scope="module")
def ae() -> ToyAlpacaEval:
    return ToyAlpacaEval()


def _student_answers(items, student: str, seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {it.id: [answer(student, s, rng) for s in item_specs(it)] for it in items}


def _run(bench, items, answers):
    judgments = ToyRubricJudge(None, None).judge(bench.judge_requests(items, answers))
    return bench.score(items, answers, judgments)


def _metric(score, name: str):
    return next(m for m in score.metrics if m.metric == name)


# ------------------------------------------------------------------------------ MT-Bench


def test_mt_items_are_two_turn_questions_over_every_category(mt: ToyMTBench) -> None:
    items = mt.items()
    assert isinstance(mt, Benchmark) and mt.headline == "score"
    assert len(items) == 40 and len({it.id for it in items}) == 40
    assert all(len(it.turns) == 2 for it in items)
    assert len({it.turns[0] for it in items}) == 40  # no question asked twice
    assert {it.category for it in items} == set(CATEGORIES)
    assert all(it.decoding.max_new_tokens == 48 for it in items)
    temps = {it.category: it.decoding.temperature for it in items}
    assert temps["describe"] == 0.7 and temps["arithmetic"] == 0.0 and temps["lookup"] == 0.0


def test_mt_temperature_map_and_fallback() -> None:
    bench = ToyMTBench({"n_questions": 12, "temperature": {"lookup": 0.3}})
    temps = {it.category: it.decoding.temperature for it in bench.items()}
    assert temps["lookup"] == 0.3 and temps["arithmetic"] == 0.7  # unlisted: FastChat's 0.7


def test_the_first_questions_do_not_depend_on_how_many_are_asked() -> None:
    few, many = ToyMTBench({"n_questions": 10}).items(), ToyMTBench({"n_questions": 40}).items()
    assert [(i.id, i.turns) for i in few] == [(i.id, i.turns) for i in many[:10]]


def test_mt_judge_requests_one_per_answered_turn(mt: ToyMTBench) -> None:
    items = mt.items()[:6]
    answers = _student_answers(items, "teacher")
    answers[items[0].id] = answers[items[0].id][:1]  # turn 2 unanswered
    del answers[items[1].id]  # no answer at all
    requests = mt.judge_requests(items, answers)
    assert len(requests) == 2 * 6 - 3
    ids = {r.id for r in requests}
    assert mt_request_id(items[0].id, 2) not in ids and mt_request_id(items[2].id, 2) in ids
    first = next(r for r in requests if r.id == mt_request_id(items[2].id, 1))
    assert [m["role"] for m in first.messages] == ["system", "user"]
    assert first.messages[0]["content"] == "You are a helpful assistant."
    assert items[2].turns[0] in first.messages[1]["content"]
    assert answers[items[2].id][0] in first.messages[1]["content"]
    assert "Rating: [[5]]" in first.messages[1]["content"]
    second = next(r for r in requests if r.id == mt_request_id(items[2].id, 2))
    assert all(t in second.messages[1]["content"] for t in items[2].turns + answers[items[2].id])
    assert second.payload["answer"] == answers[items[2].id][1] and second.payload["turn"] == 2


def test_mt_aggregation_is_show_result_semantics(mt: ToyMTBench) -> None:
    items = mt.items()[:3]
    answers = _student_answers(items, "teacher")
    q1, q2, q3 = (it.id for it in items)
    judgments = [
        JudgeResult(mt_request_id(q1, 1), "Fine. Rating: [[8]]"),
        JudgeResult(mt_request_id(q1, 2), "Rating: [[4]]"),
        JudgeResult(mt_request_id(q2, 1), "Rating: [[6]]"),
        JudgeResult(mt_request_id(q2, 2), None, error="timeout"),
        JudgeResult(mt_request_id(q3, 1), "As said in [9], ok."),  # single-bracket fallback
        JudgeResult(mt_request_id(q3, 2), "I cannot rate this."),  # no rating: -1
    ]
    score = mt.score(items, answers, judgments)
    overall = _metric(score, "score")
    assert overall.value == pytest.approx((8 + 4 + 6 + 9) / 4)  # not the mean of turn means
    assert (overall.n, overall.n_failed) == (4, 2)
    turn1, turn2 = _metric(score, "score_turn1"), _metric(score, "score_turn2")
    assert turn1.value == pytest.approx((8 + 6 + 9) / 3) and (turn1.n, turn1.n_failed) == (3, 0)
    assert turn2.value == 4 and (turn2.n, turn2.n_failed) == (1, 2)
    assert overall.value != pytest.approx((turn1.value + turn2.value) / 2)
    category1 = _metric(score, f"score_{items[0].category}")
    assert category1.value == 6 and category1.n == 2
    assert score.per_item == {q1: 6.0, q2: 6.0, q3: 9.0}
    failed = [r for r in score.records if r["score"] == -1]
    assert len(score.records) == 6 and len(failed) == 2
    assert {r["error"] for r in failed} == {"timeout", "no rating in the judgment"}
    assert {"question_id", "judge", "user_prompt", "judgment", "score", "turn"} <= set(
        score.records[0]
    )


def test_mt_missing_answers_and_judgments_count_as_failures(mt: ToyMTBench) -> None:
    items = mt.items()[:2]
    answers = {items[0].id: ["The answer is 1."]}  # one turn answered, the rest not
    score = mt.score(items, answers, [])
    overall = _metric(score, "score")
    assert overall.n == 0 and overall.n_failed == 4 and math.isnan(overall.value)
    errors = sorted(r["error"] for r in score.records)
    assert errors == ["no answer for this turn"] * 3 + ["no judgment for this request"]


def test_mt_ci_resamples_whole_questions(mt: ToyMTBench) -> None:
    items = mt.items()[:2]
    answers = _student_answers(items, "teacher")
    ratings = {(0, 1): 10, (0, 2): 2, (1, 1): 6, (1, 2): 6}  # both questions average 6
    judgments = [
        JudgeResult(mt_request_id(items[q].id, t), f"Rating: [[{r}]]")
        for (q, t), r in ratings.items()
    ]
    overall = _metric(mt.score(items, answers, judgments), "score")
    assert (overall.value, overall.ci_low, overall.ci_high) == (6.0, 6.0, 6.0)


def test_mt_end_to_end_with_the_rubric_judge(mt: ToyMTBench) -> None:
    items = mt.items()
    teacher = _run(mt, items, _student_answers(items, "teacher"))
    refuser = _run(mt, items, _student_answers(items, "refuser"))
    assert _metric(teacher, "score").value == 10 and _metric(refuser, "score").value == 2
    assert _metric(teacher, "score").n == 80 and _metric(teacher, "score").n_failed == 0
    assert {f"score_{c}" for c in CATEGORIES} <= {m.metric for m in teacher.metrics}
    hedger = _metric(_run(mt, items, _student_answers(items, "hedger")), "score")
    assert 2 < hedger.value < 10 and hedger.ci_low <= hedger.value <= hedger.ci_high


# ------------------------------------------------------------------------------ AlpacaEval


def test_ae_items_are_single_turn_with_a_reference_answer(ae: ToyAlpacaEval) -> None:
    items = ae.items()
    assert isinstance(ae, Benchmark) and ae.headline == "win_rate"
    assert len(items) == 60 and all(len(it.turns) == 1 for it in items)
    assert len({it.turns[0] for it in items}) == 60  # no question asked twice
    assert {it.category for it in items} == set(CATEGORIES)
    assert all(isinstance(it.meta["reference"], str) and it.meta["reference"] for it in items)
    assert items == ToyAlpacaEval().items()  # deterministic, reference answers included


def test_ae_order_is_randomised_per_item_and_deterministic(ae: ToyAlpacaEval) -> None:
    items = ae.items()
    answers = {it.id: [f"model answer {it.id}"] for it in items}
    requests = ae.judge_requests(items, answers)
    flags = [ae.swapped(it.id) for it in items]
    assert 10 < sum(flags) < 50  # both orders occur
    for item, request, swapped in zip(items, requests, flags, strict=True):
        model_slot = "answer_b" if swapped else "answer_a"
        ref_slot = "answer_a" if swapped else "answer_b"
        assert request.payload[model_slot] == answers[item.id][0]
        assert request.payload[ref_slot] == item.meta["reference"]
    other_seed = ToyAlpacaEval(ToyAlpacaEvalParams(seed=1))
    assert [other_seed.swapped(it.id) for it in items] != flags


def test_ae_scoring_unflips_and_counts_a_draw_half(ae: ToyAlpacaEval) -> None:
    items = ae.items()
    plain = [it for it in items if not ae.swapped(it.id)][:2]
    flipped = [it for it in items if ae.swapped(it.id)][:2]
    chosen = [plain[0], plain[1], flipped[0], flipped[1]]
    answers = {it.id: ["x"] for it in chosen}
    judgments = [
        JudgeResult(plain[0].id, "[[A]]"),  # the model was A: a win
        JudgeResult(plain[1].id, "[[C]]"),  # a draw
        JudgeResult(flipped[0].id, "[[A]]"),  # the reference was A: a loss
        JudgeResult(flipped[1].id, "no verdict here"),  # a failure
    ]
    score = ae.score(chosen, answers, judgments)
    assert score.per_item == {plain[0].id: 1.0, plain[1].id: 0.5, flipped[0].id: 0.0}
    wr = _metric(score, "win_rate")
    assert wr.value == pytest.approx(50.0) and (wr.n, wr.n_failed) == (3, 1)
    se = 100 * 0.5 / math.sqrt(3)  # sample std of (1, 0.5, 0) is 0.5
    assert _metric(score, "standard_error").value == pytest.approx(se)
    assert (wr.ci_low, wr.ci_high) == pytest.approx((50 - 1.959964 * se, 50 + 1.959964 * se))
    assert _metric(score, "discrete_win_rate").value == pytest.approx(50.0)
    counts = [_metric(score, k).value for k in ("n_wins", "n_draws", "n_total")]
    assert counts == [1, 1, 3]
    records = {r["question_id"]: r for r in score.records}
    assert records[flipped[1].id]["score"] == -1 and "verdict" in records[flipped[1].id]["error"]
    assert records[plain[0].id]["preference"] == 2.0  # alpaca_eval: output_2 (the model) wins
    assert records[flipped[0].id]["preference"] == 1.0


def test_ae_end_to_end_with_the_rubric_judge(ae: ToyAlpacaEval) -> None:
    items = ae.items()
    teacher = _run(ae, items, _student_answers(items, "teacher"))
    looper = _run(ae, items, _student_answers(items, "looper"))
    assert _metric(teacher, "win_rate").value == 100.0
    assert _metric(looper, "win_rate").value == 0.0
    assert _metric(teacher, "n_total").value == 60
    missing = _run(ae, items, {})
    assert _metric(missing, "win_rate").n_failed == 60


def test_benchmark_params_are_strict() -> None:
    with pytest.raises(ValidationError):
        ToyMTBenchParams(n_question=3)
    with pytest.raises(ValidationError):
        ToyAlpacaEvalParams(reference_error_rate=1.5)
