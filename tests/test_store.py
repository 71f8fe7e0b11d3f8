"""The results store: atomic stage folders, manifests, and the experiment lock."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from harness.errors import StoreError
from harness.store import Store


def _hold_lock(root, ready, release):
    with Store(root, "exp").locked():
        ready.set()
        release.wait(10)


def test_finished_stage_has_manifest_with_provenance(tmp_path):
    store = Store(tmp_path, "exp")
    with store.locked(), store.stage("train-x-abc", {"params": {"lr": 1}}) as work:
        (work / "payload.txt").write_text("ok")
    assert store.done("train-x-abc")
    m = json.loads((store.stage_dir("train-x-abc") / "manifest.json").read_text())
    assert m["params"] == {"lr": 1} and m["status"] == "complete"
    assert {"torch", "transformers", "trl", "python"} <= set(m["versions"])
    assert set(m["git"]) == {"sha", "dirty"} and m["seconds"] >= 0


def test_failed_stage_leaves_nothing_in_place(tmp_path):
    store = Store(tmp_path, "exp")
    with store.locked():
        with pytest.raises(RuntimeError), store.stage("train-x-abc", {}) as work:
            (work / "half.bin").write_text("partial")
            raise RuntimeError("killed mid-stage")
        assert not store.stage_dir("train-x-abc").exists()
        assert not store.done("train-x-abc")


def test_leftovers_of_an_interrupted_run_are_wiped(tmp_path):
    store = Store(tmp_path, "exp")
    (store.tmp / "train-x-abc.999").mkdir(parents=True)
    with store.locked():
        assert list(store.tmp.iterdir()) == []


def test_second_writer_is_refused(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        with (
            pytest.raises(StoreError, match="being written by another alignlab run"),
            Store(tmp_path, "exp").locked(),
        ):
            pass
    finally:
        release.set()
        proc.join(10)
    with Store(tmp_path, "exp").locked():  # free again once the holder is gone
        pass


def test_stage_outside_lock_is_refused(tmp_path):
    store = Store(tmp_path, "exp")
    with pytest.raises(StoreError), store.stage("x", {}):
        pass


def test_finished_stage_is_found_by_key_under_any_label(tmp_path):
    store = Store(tmp_path, "exp")
    key = "ab" * 32
    with store.locked(), store.stage(f"generate-old_name-{key[:12]}", {"key": key}):
        pass
    assert store.find("generate", key) == f"generate-old_name-{key[:12]}"
    assert store.find("judge", key) is None
    assert store.find("generate", "cd" * 32) is None
