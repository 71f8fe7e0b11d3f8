"""MT-Bench data folders: pinned upstream files, FastChat's loading rules, locating the folder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from harness.errors import AlignlabError
from plugins.benchmarks.mt_bench import MTBench, MTBenchParams
from plugins.benchmarks.mt_bench import data as mt_data
from plugins.benchmarks.mt_bench.data import (
    PINNED_FILES,
    FastChatData,
    load_model_answers,
    resolve_data_dir,
    verify_file,
)
from tests.datadir import require_subfolder

DOC_PREFIXES = {  # from docs/mt-bench-semantics.md and the data README
    "judge_prompts.jsonl": "fd283293",
    "mt_bench/question.jsonl": "119565ad",
    "mt_bench/reference_answer/gpt-4.jsonl": "f957a5bc",
}


@pytest.fixture(scope="session")
def data_root(data_dir: Path) -> Path:
    return require_subfolder(data_dir, "fastchat")


def _pinned_copy(src: Path, dest: Path) -> Path:
    for rel in PINNED_FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
    return dest


def test_pinned_hashes_are_the_upstream_files(data_root: Path) -> None:
    assert set(PINNED_FILES) == set(DOC_PREFIXES)
    for rel, sha in PINNED_FILES.items():
        actual = hashlib.sha256((data_root / "fastchat" / rel).read_bytes()).hexdigest()
        assert actual == sha
        assert sha.startswith(DOC_PREFIXES[rel])


def test_raw_urls_point_at_the_pinned_commit() -> None:
    url = mt_data.RAW_URL.format(commit=mt_data.FASTCHAT_COMMIT, path="mt_bench/question.jsonl")
    assert url.startswith("https://raw.githubusercontent.com/lm-sys/FastChat/0e6d3e4b")
    assert url.endswith("/fastchat/llm_judge/data/mt_bench/question.jsonl")


def _answer(qid: int, model_id: str, turns: list[str]) -> str:
    choice = {"index": 0, "turns": turns}
    return json.dumps({"question_id": qid, "model_id": model_id, "choices": [choice]}) + "\n"


def test_answers_last_line_wins_and_model_name_is_the_file_name(tmp_path: Path) -> None:
    answer_dir = tmp_path / "model_answer"
    answer_dir.mkdir()
    (answer_dir / "b-model.jsonl").write_text(
        _answer(81, "something-else", ["old"])
        + _answer(82, "x", ["q82"])
        + _answer(81, "x", ["new"])
    )
    (answer_dir / "a-model.jsonl").write_text(_answer(81, "a", ["a81"]))
    (answer_dir / "nested").mkdir()
    (answer_dir / "nested" / "c-model.jsonl").write_text(_answer(81, "c", ["c81"]))
    (answer_dir / "notes.txt").write_text("not an answer file")

    answers = load_model_answers(answer_dir)
    assert list(answers) == ["a-model", "b-model"]
    assert answers["b-model"][81]["choices"][0]["turns"] == ["new"]
    assert sorted(answers["b-model"]) == [81, 82]


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "mt_bench").mkdir()
    (tmp_path / "mt_bench" / "question.jsonl").write_text('{"question_id": 81}\n{oops\n')
    with pytest.raises(AlignlabError, match=r"question\.jsonl:2"):
        FastChatData(tmp_path).questions()


def test_missing_file_says_what_layout_is_needed(tmp_path: Path) -> None:
    with pytest.raises(AlignlabError, match=r"no mt_bench/question\.jsonl"):
        FastChatData(tmp_path).questions()


def test_checksum_mismatch_names_file_and_both_hashes(data_root: Path, tmp_path: Path) -> None:
    folder = _pinned_copy(data_root / "fastchat", tmp_path / "data")
    question = folder / "mt_bench" / "question.jsonl"
    question.write_bytes(question.read_bytes().replace(b"Hawaii", b"Hawai'i", 1))
    actual = hashlib.sha256(question.read_bytes()).hexdigest()
    expected = PINNED_FILES["mt_bench/question.jsonl"]

    with pytest.raises(AlignlabError) as err:
        verify_file(question, expected)
    assert str(question) in str(err.value)
    assert expected in str(err.value) and actual in str(err.value)

    with pytest.raises(AlignlabError, match="question.jsonl"):
        MTBench(MTBenchParams(data_dir=str(folder))).items()
    unchecked = MTBench(MTBenchParams(data_dir=str(folder), verify_checksums=False))
    assert len(unchecked.items()) == 80


def test_resolve_prefers_the_given_folder_then_the_env(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_data_dir(tmp_path) == tmp_path
    with pytest.raises(AlignlabError, match="does not exist"):
        resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv("ALIGNLAB_DATA_DIR", str(data_root))
    assert resolve_data_dir(None) == data_root / "fastchat"


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("the test tried to reach the network")


def test_cache_is_filled_and_verified_when_no_folder_is_given(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALIGNLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("ALIGNLAB_CACHE_DIR", str(tmp_path / "cache"))
    source = (data_root / "fastchat").resolve()
    monkeypatch.setattr(mt_data, "RAW_URL", source.as_uri() + "/{path}")

    folder = resolve_data_dir(None)
    assert folder.is_relative_to(tmp_path / "cache")
    for rel, sha in PINNED_FILES.items():
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == sha

    monkeypatch.setattr("urllib.request.urlopen", _no_network)
    assert resolve_data_dir(None) == folder  # verified files are not fetched again


def test_a_corrupt_download_is_refused_and_not_kept(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = _pinned_copy(data_root / "fastchat", tmp_path / "upstream")
    with open(upstream / "judge_prompts.jsonl", "ab") as f:
        f.write(b"\n")
    cache = tmp_path / "cache"
    template = upstream.as_uri() + "/{path}"
    with pytest.raises(AlignlabError, match=r"judge_prompts\.jsonl") as err:
        mt_data.download_pinned(cache, template)
    assert PINNED_FILES["judge_prompts.jsonl"] in str(err.value)
    assert not (cache / "judge_prompts.jsonl").exists()
    assert [p.name for p in cache.iterdir()] == []
