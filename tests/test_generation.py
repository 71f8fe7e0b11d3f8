"""The ``hf`` generator and the multi-turn driver, on tiny random chat models (CPU, fast)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import pytest

from harness.api import (
    BenchmarkItem,
    Decoding,
    GenerationRequest,
    GenerationResult,
    Generator,
    NoParams,
    Params,
)
from harness.errors import AlignlabError
from harness.generation.chat import encode_prompt, render
from harness.generation.hf import HFGenerator, HFParams, plan_batches
from harness.generation.kvcache import layout, reusable_length, row_slots
from harness.generation.turns import TurnCache, answer_items
from tests.tiny import ZEPHYR_CHAT_TEMPLATE, make_tiny_chat_model

GREEDY = Decoding(temperature=0.0, max_new_tokens=12)
SAMPLED = Decoding(temperature=1.0, top_p=0.9, max_new_tokens=12)

# Prompts of very different lengths, deliberately not in length order.
PROMPTS = [
    "the cat sees the moon",
    "a robot writes a poem today. my friend counts seven apples! we ask the teacher again? "
    "an owl paints blue boxes quickly. the river moves the city in Paris.",
    "we",
    "the teacher finds an answer 42 times. a robot likes the moon!",
    "my friend paints",
]

MARKED_TEMPLATE = (
    "{% for m in messages %}### {{ m['role'] }}:\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}### assistant:\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("llama"), arch="llama", seed=0)


def make_generator(path: Path, chat_template: str | None = None, **params) -> HFGenerator:
    return HFGenerator(HFParams(device="cpu", **params), str(path), chat_template)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def requests_for(prompts: Sequence[str], decoding: Decoding = GREEDY) -> list[GenerationRequest]:
    return [GenerationRequest(f"r{i}", user(p), decoding) for i, p in enumerate(prompts)]


@lru_cache(maxsize=8)
def _reference_model(path: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()


def reference_greedy(path: Path, messages, max_new_tokens: int, template: str | None = None):
    """Greedy answer straight from transformers: one unpadded prompt, no alignlab code."""
    import torch

    tokenizer, model = _reference_model(str(path))
    text = tokenizer.apply_chat_template(
        messages, chat_template=template, tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[0, ids.shape[1] :].tolist()
    if tokenizer.eos_token_id in new:
        new = new[: new.index(tokenizer.eos_token_id)]
    return tokenizer.decode(new, skip_special_tokens=True).strip(), new


# ---------------------------------------------------------------------- batching


@pytest.mark.parametrize(
    ("arch", "prefill_batch_size"), [("llama", 8), ("mistral", 8), ("llama", 2)]
)
def test_batched_greedy_equals_one_at_a_time_in_input_order(tmp_path, arch, prefill_batch_size):
    path = make_tiny_chat_model(tmp_path, arch=arch, seed=1)
    requests = requests_for(PROMPTS)
    generator = make_generator(path, batch_size=4, prefill_batch_size=prefill_batch_size)
    batched = generator.generate(requests)
    single = make_generator(path, batch_size=1).generate(requests)
    assert [r.id for r in batched] == [r.id for r in requests]
    assert batched == single
    for request, result in zip(requests, batched, strict=True):
        text, _ = reference_greedy(path, request.messages, GREEDY.max_new_tokens)
        assert result.text == text


def test_prompts_in_a_batch_really_differ_in_length(tiny_llama):
    generator = make_generator(tiny_llama)
    lengths = {len(encode_prompt(generator.tokenizer, p)) for p in PROMPTS}
    assert len(lengths) == len(PROMPTS)


def test_missing_pad_token_falls_back_to_eos(tmp_path):
    path = make_tiny_chat_model(tmp_path, pad_token=False)
    generator = make_generator(path, batch_size=8)
    assert generator.tokenizer.pad_token_id == generator.tokenizer.eos_token_id
    requests = requests_for(PROMPTS)
    assert generator.generate(requests) == make_generator(path, batch_size=1).generate(requests)


def test_plan_batches_never_mixes_decodings_and_sorts_by_length():
    decodings = [GREEDY, SAMPLED, GREEDY, SAMPLED, GREEDY, GREEDY]
    requests = [GenerationRequest(str(i), user("x"), d) for i, d in enumerate(decodings)]
    lengths = [3, 9, 7, 1, 5, 8]
    batches = plan_batches(requests, lengths, batch_size=2)
    assert sorted(i for batch in batches for i in batch) == list(range(len(requests)))
    for batch in batches:
        assert len({requests[i].decoding for i in batch}) == 1
        assert len(batch) <= 2
    greedy_order = [i for batch in batches for i in batch if requests[i].decoding == GREEDY]
    assert [lengths[i] for i in greedy_order] == sorted([3, 7, 5, 8], reverse=True)


def test_mixed_decodings_in_one_call_are_each_honoured(tiny_llama):
    short = Decoding(temperature=0.0, max_new_tokens=3)
    long = Decoding(temperature=0.0, max_new_tokens=12)
    requests = [
        GenerationRequest(f"r{i}", user(p), short if i % 2 else long) for i, p in enumerate(PROMPTS)
    ]
    results = make_generator(tiny_llama, batch_size=8).generate(requests)
    assert [r.id for r in results] == [r.id for r in requests]
    for request, result in zip(requests, results, strict=True):
        text, _ = reference_greedy(tiny_llama, request.messages, request.decoding.max_new_tokens)
        assert result.text == text
        assert result.n_tokens <= request.decoding.max_new_tokens


def test_progress_is_reported_per_batch(tiny_llama):
    calls: list[int] = []
    make_generator(tiny_llama, batch_size=2).generate(requests_for(PROMPTS), calls.append)
    assert calls == [2, 2, 1]


def test_out_of_memory_splits_the_batch(tiny_llama, monkeypatch):
    import torch

    generator = make_generator(tiny_llama, batch_size=8)
    real = generator._generate_batch
    sizes: list[int] = []

    def small_batches_only(loaded, prompts, decoding):
        sizes.append(len(prompts))
        if len(prompts) > 2:
            raise torch.OutOfMemoryError("simulated")
        return real(loaded, prompts, decoding)

    monkeypatch.setattr(generator, "_generate_batch", small_batches_only)
    requests = requests_for(PROMPTS)
    assert generator.generate(requests) == make_generator(tiny_llama).generate(requests)
    assert sizes[0] == len(PROMPTS) and max(sizes[1:]) <= len(PROMPTS) // 2 + 1


def test_out_of_memory_on_a_single_prompt_is_a_clear_error(tiny_llama, monkeypatch):
    import torch

    generator = make_generator(tiny_llama, batch_size=2)

    def always(loaded, prompts, decoding):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(generator, "_generate_batch", always)
    with pytest.raises(AlignlabError, match="max_input_tokens"):
        generator.generate(requests_for(PROMPTS))


# ---------------------------------------------------------------------- decoding


def test_sampling_is_reproducible_for_a_seed_and_differs_across_seeds(tiny_llama):
    requests = requests_for(PROMPTS, SAMPLED)
    first = make_generator(tiny_llama, seed=7).generate(requests)
    again = make_generator(tiny_llama, seed=7).generate(requests)
    other = make_generator(tiny_llama, seed=8).generate(requests)
    greedy = make_generator(tiny_llama).generate(requests_for(PROMPTS))
    assert [r.text for r in first] == [r.text for r in again]
    assert [r.text for r in first] != [r.text for r in other]
    assert [r.text for r in first] != [r.text for r in greedy]


def test_greedy_is_reproducible_across_instances(tiny_llama):
    requests = requests_for(PROMPTS)
    assert make_generator(tiny_llama, seed=1).generate(requests) == make_generator(
        tiny_llama, seed=2
    ).generate(requests)


def test_stops_at_generation_config_eos_and_reports_length(tmp_path):
    path = make_tiny_chat_model(tmp_path, seed=3)
    messages = user(PROMPTS[0])
    _, new = reference_greedy(path, messages, 6)
    assert len(new) == 6, "precondition: the model does not emit </s> in its first 6 tokens"
    request = [GenerationRequest("q", messages, Decoding(max_new_tokens=6))]

    unstopped = make_generator(path).generate(request)[0]
    assert (unstopped.finish_reason, unstopped.n_tokens) == ("length", 6)

    stop_token = new[3]
    config_file = path / "generation_config.json"
    config = json.loads(config_file.read_text())
    config["eos_token_id"] = [config["eos_token_id"], stop_token]
    config_file.write_text(json.dumps(config))
    stopped = make_generator(path).generate(request)[0]
    k = new.index(stop_token)
    tokenizer, _ = _reference_model(str(path))
    assert stopped.finish_reason == "stop"
    assert stopped.n_tokens == k + 1
    assert stopped.text == tokenizer.decode(new[:k], skip_special_tokens=True).strip()


# ---------------------------------------------------------------------- chat templates


def test_no_chat_template_is_an_error_naming_the_model(tmp_path):
    path = make_tiny_chat_model(tmp_path / "bare-model", chat_template=False)
    generator = make_generator(path)
    with pytest.raises(AlignlabError, match="bare-model") as err:
        generator.generate(requests_for(["hello"]))
    assert "chat_template" in str(err.value)


def test_chat_template_override_is_used_and_recorded(tmp_path):
    path = make_tiny_chat_model(tmp_path, chat_template=False)
    generator = make_generator(path, chat_template=MARKED_TEMPLATE)
    request = requests_for([PROMPTS[3]])
    result = generator.generate(request)[0]
    text, _ = reference_greedy(path, request[0].messages, GREEDY.max_new_tokens, MARKED_TEMPLATE)
    assert result.text == text
    described = generator.describe()
    assert described["chat_template_source"] == "config"
    assert described["chat_template_sha256"] == hashlib.sha256(MARKED_TEMPLATE.encode()).hexdigest()
    assert described["rendered_example"].endswith("### assistant:\n")


def test_describe_records_template_example_model_dtype_device(tiny_llama):
    described = make_generator(tiny_llama, system_prompt="Be brief.").describe()
    assert described["chat_template_source"] == "tokenizer"
    expected_sha = hashlib.sha256(ZEPHYR_CHAT_TEMPLATE.encode()).hexdigest()
    assert described["chat_template_sha256"] == expected_sha
    assert described["rendered_example"] == (
        "<|system|>\nBe brief.</s>\n"
        "<|user|>\nWhat is the capital of France?</s>\n"
        "<|assistant|>\nThe capital of France is Paris.</s>\n"
        "<|user|>\nAnd of Italy?</s>\n"
        "<|assistant|>\n"
    )
    assert described["model"] == str(tiny_llama)
    assert (described["dtype"], described["device"]) == ("float32", "cpu")


def test_system_prompt_param_changes_the_prompt(tiny_llama):
    request = requests_for([PROMPTS[0]])
    with_system = make_generator(tiny_llama, system_prompt="Be brief.").generate(request)[0]
    messages = [{"role": "system", "content": "Be brief."}, *request[0].messages]
    assert with_system.text == reference_greedy(tiny_llama, messages, GREEDY.max_new_tokens)[0]


def test_prompt_gets_exactly_one_bos(tmp_path):
    path = make_tiny_chat_model(tmp_path, add_bos=True)
    tokenizer = make_generator(path).tokenizer
    bos = tokenizer.bos_token_id
    plain = encode_prompt(tokenizer, "<|user|>\nhi</s>\n<|assistant|>\n")
    written = encode_prompt(tokenizer, "<s><|user|>\nhi</s>\n<|assistant|>\n")
    assert plain[0] == bos and plain[1] != bos
    assert written == plain


def test_long_prompts_are_cut_and_counted(tiny_llama):
    generator = make_generator(tiny_llama, max_input_tokens=20)
    generator.generate(requests_for(PROMPTS))
    n_long = sum(len(encode_prompt(generator.tokenizer, p)) > 20 for p in _rendered(PROMPTS))
    assert n_long > 0
    assert generator.describe()["n_truncated_inputs"] == n_long


def _rendered(prompts: Sequence[str]) -> list[str]:
    return [f"<|user|>\n{p}</s>\n<|assistant|>\n" for p in prompts]


def test_params_have_defaults_and_descriptions_and_reject_unknown_keys():
    for name, field in HFParams.model_fields.items():
        assert field.description, name
        assert not field.is_required(), name
    with pytest.raises(ValueError):
        HFParams(batchsize=4)  # type: ignore[call-arg]


# ---------------------------------------------------------------------- multi-turn driver


class RecordingGenerator:
    """A fake generator: answers 'A<n>:<last user text>' and records every call."""

    Params: ClassVar[type[Params]] = NoParams

    def __init__(self):
        self.calls: list[list[GenerationRequest]] = []

    def generate(self, requests, progress=None) -> list[GenerationResult]:
        self.calls.append(list(requests))
        if progress is not None:
            progress(len(requests))
        n = len(self.calls)
        return [GenerationResult(r.id, f"A{n}:{r.messages[-1]['content']}") for r in requests]

    def describe(self):
        return {}


class RecordingHF:
    """The real HF generator, with every call's requests recorded."""

    Params: ClassVar[type[Params]] = HFParams

    def __init__(self, inner: HFGenerator):
        self.inner = inner
        self.calls: list[list[GenerationRequest]] = []

    def generate(self, requests, progress=None):
        self.calls.append(list(requests))
        return self.inner.generate(requests, progress)

    def describe(self):
        return self.inner.describe()

    def keep_for_next_turn(self, request_ids):
        self.inner.keep_for_next_turn(request_ids)

    def drop_turn_cache(self):
        self.inner.drop_turn_cache()


def items() -> list[BenchmarkItem]:
    return [
        BenchmarkItem("two", "writing", ["the cat sees", "we ask again?"], GREEDY),
        BenchmarkItem("one", "math", ["seven apples"], Decoding(max_new_tokens=5)),
        BenchmarkItem("three", "stem", ["a robot", "the moon", "blue boxes"], GREEDY),
    ]


def test_answer_items_batches_turns_and_feeds_back_own_answers():
    fake = RecordingGenerator()
    assert isinstance(fake, Generator)
    ticks: list[int] = []
    answers = answer_items(fake, items(), system_prompt="S", progress=ticks.append)

    assert [len(call) for call in fake.calls] == [3, 2, 1]
    assert answers == {
        "two": ["A1:the cat sees", "A2:we ask again?"],
        "one": ["A1:seven apples"],
        "three": ["A1:a robot", "A2:the moon", "A3:blue boxes"],
    }
    third = fake.calls[2][0]
    assert third.messages == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "a robot"},
        {"role": "assistant", "content": "A1:a robot"},
        {"role": "user", "content": "the moon"},
        {"role": "assistant", "content": "A2:the moon"},
        {"role": "user", "content": "blue boxes"},
    ]
    assert [r.decoding for r in fake.calls[0]] == [item.decoding for item in items()]
    assert sum(ticks) == 6


def test_answer_items_turn_two_sees_the_real_models_turn_one_answer(tiny_llama):
    recorder = RecordingHF(make_generator(tiny_llama, batch_size=2))
    assert isinstance(recorder, TurnCache)
    answers = answer_items(recorder, items())
    assert recorder.inner.n_reused_tokens > 0, "precondition: turn 2 reused turn 1's cache"
    turn2 = {r.id: r for r in recorder.calls[1]}
    for item_id in ("two", "three"):
        request = next(r for r in turn2.values() if r.id.startswith(item_id))
        assert request.messages[1] == {"role": "assistant", "content": answers[item_id][0]}
        text, _ = reference_greedy(tiny_llama, request.messages, GREEDY.max_new_tokens)
        assert answers[item_id][1] == text


def test_answer_items_rejects_duplicate_ids():
    twice = [*items(), items()[0]]
    with pytest.raises(AlignlabError, match="two"):
        answer_items(RecordingGenerator(), twice)


def test_answer_items_rejects_a_generator_that_drops_results():
    class Dropping(RecordingGenerator):
        def generate(self, requests, progress=None):
            return super().generate(requests, progress)[:-1]

    with pytest.raises(AlignlabError, match="one result per request"):
        answer_items(Dropping(), items())


# ---------------------------------------------------------------------- turn cache reuse


def conversations(n_turns: int = 3) -> list[BenchmarkItem]:
    """Items of 1 to ``n_turns`` turns over prompts of very different lengths."""
    decoding = Decoding(max_new_tokens=10)
    return [
        BenchmarkItem(
            f"q{i}", "x", [PROMPTS[(i + k) % 5] for k in range(1 + i % n_turns)], decoding
        )
        for i in range(len(PROMPTS) + 2)
    ]


@pytest.mark.parametrize(
    ("arch", "batch_size", "prefill_batch_size"),
    [("llama", 4, 8), ("mistral", 4, 8), ("llama", 4, 2), ("llama", 1, 8)],
)
def test_reusing_turn_caches_gives_the_answers_of_encoding_from_scratch(
    tmp_path, arch, batch_size, prefill_batch_size
):
    path = make_tiny_chat_model(tmp_path, arch=arch, seed=2)
    sizes = {"batch_size": batch_size, "prefill_batch_size": prefill_batch_size}
    reusing = make_generator(path, **sizes)
    fresh = make_generator(path, **sizes, reuse_turn_cache=False)
    answers = answer_items(reusing, conversations())
    assert answers == answer_items(fresh, conversations())
    assert reusing.n_reused_tokens > 0 and fresh.n_reused_tokens == 0
    assert reusing.n_prompt_tokens == fresh.n_prompt_tokens


def test_reuse_covers_turn_one_and_stops_where_retokenizing_the_answer_diverges(tmp_path):
    """Re-tokenized answers differ from the generated ids (the tiny model writes byte soup)."""
    path = make_tiny_chat_model(tmp_path, seed=2)
    generator = make_generator(path, batch_size=8)
    tokenizer = generator.tokenizer
    two_turns = [item for item in conversations(2) if len(item.turns) == 2]
    answers = answer_items(generator, two_turns)
    assert answers == answer_items(
        make_generator(path, batch_size=1, reuse_turn_cache=False), two_turns
    )

    diverging, first_prompts = 0, 0
    for item in two_turns:
        first = user(item.turns[0])
        turn1 = encode_prompt(tokenizer, render(tokenizer, generator.chat_template, first))
        _, generated = reference_greedy(path, first, item.decoding.max_new_tokens)
        second = [
            *first,
            {"role": "assistant", "content": answers[item.id][0]},
            *user(item.turns[1]),
        ]
        turn2 = encode_prompt(tokenizer, render(tokenizer, generator.chat_template, second))
        assert turn2[: len(turn1)] == turn1
        shared = reusable_length(turn1 + generated, turn2)
        diverging += len(turn1) <= shared < len(turn1) + len(generated)
        first_prompts += len(turn1)
    assert diverging > 0, "precondition: some re-tokenized answers differ from generated ids"
    assert generator.n_reused_tokens > first_prompts  # reuse reaches into the answers


def test_sampling_with_reused_caches_equals_sampling_from_scratch_one_at_a_time(tmp_path):
    path = make_tiny_chat_model(tmp_path, seed=2)
    sampled = [
        BenchmarkItem(item.id, item.category, item.turns, SAMPLED) for item in conversations()
    ]
    reusing = make_generator(path, batch_size=1, seed=3)
    answers = answer_items(reusing, sampled)
    assert reusing.n_reused_tokens > 0
    assert answers == answer_items(
        make_generator(path, batch_size=1, seed=3, reuse_turn_cache=False), sampled
    )
    assert answers != answer_items(make_generator(path, batch_size=1), conversations())


def test_caches_are_kept_only_when_asked_and_dropped_after_the_turns(tiny_llama):
    first = [GenerationRequest("a", user(PROMPTS[1]), GREEDY)]

    def second(answer: str) -> list[GenerationRequest]:
        messages = [*user(PROMPTS[1]), {"role": "assistant", "content": answer}, *user("we")]
        return [GenerationRequest("a2", messages, GREEDY)]

    generator = make_generator(tiny_llama)
    answer = generator.generate(first)[0].text
    generator.generate(second(answer))
    assert generator.n_reused_tokens == 0  # nobody asked to keep anything

    generator.keep_for_next_turn(["a"])
    answer = generator.generate(first)[0].text
    generator.drop_turn_cache()
    generator.generate(second(answer))
    assert generator.n_reused_tokens == 0  # dropped

    generator.keep_for_next_turn(["a"])
    answer = generator.generate(first)[0].text
    generator.generate(second(answer))
    assert generator.n_reused_tokens > len(
        encode_prompt(generator.tokenizer, _rendered(PROMPTS[1:2])[0])
    )

    class FailsInTurnTwo(RecordingHF):
        def generate(self, requests, progress=None):
            if self.calls:
                raise RuntimeError("turn two failed")
            return super().generate(requests, progress)

    item = BenchmarkItem("a", "x", [PROMPTS[1], "we"], GREEDY)
    with pytest.raises(RuntimeError, match="turn two failed"):
        answer_items(FailsInTurnTwo(generator), [item])
    before = generator.n_reused_tokens
    generator.generate(second(answer))
    assert generator.n_reused_tokens == before  # answer_items forgot turn one's cache


def test_a_sliding_window_shorter_than_the_batch_turns_reuse_off(tmp_path):
    path = make_tiny_chat_model(tmp_path, arch="mistral", seed=2)
    config_file = path / "config.json"
    config = json.loads(config_file.read_text())
    config["sliding_window"] = 24
    config_file.write_text(json.dumps(config))
    generator = make_generator(path, batch_size=4)
    answers = answer_items(generator, conversations())
    assert generator.n_reused_tokens == 0
    assert answers == answer_items(
        make_generator(path, batch_size=4, reuse_turn_cache=False), conversations()
    )


def test_reusable_length_is_the_common_prefix_but_leaves_one_token_to_feed():
    assert reusable_length([5, 6, 7, 8], [5, 6, 9, 8, 1]) == 2
    assert reusable_length([5, 6], [5, 6, 7]) == 2
    assert reusable_length([5, 6, 7, 8], [5, 6, 7]) == 2
    assert reusable_length([1], [2, 3]) == 0


def test_layout_puts_prefixes_before_left_padded_new_tokens():
    box = layout([[1, 2, 3, 4], [5, 6], [7, 8, 9]], [3, 0, 1], pad_id=0)
    assert (box.width, box.new_width) == (3, 2)
    assert box.input_ids == [[1, 2, 3, 0, 4], [0, 0, 0, 5, 6], [0, 0, 7, 8, 9]]
    assert box.attention_mask == [[1, 1, 1, 0, 1], [0, 0, 0, 1, 1], [0, 0, 1, 1, 1]]
    assert row_slots(box, 0, n_cached=7) == [0, 1, 2, 4, 5, 6]
    assert row_slots(box, 2, n_cached=5) == [2, 3, 4]
    plain = layout([[1, 2, 3], [4]], [0, 0], pad_id=0)
    assert plain.input_ids == [[1, 2, 3], [0, 0, 4]] and plain.width == 0
