"""AlpacaEval data: pinned files, checksums, local folders, the download cache."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.download import sha256_file
from harness.errors import AlignlabError
from plugins.benchmarks.alpaca_eval import data

REL_V1 = "results/text_davinci_003/model_outputs.json"


@pytest.fixture
def ae_dir(data_dir: Path) -> Path:
    path = data_dir / "alpaca_eval"
    if not (path / REL_V1).is_file():
        pytest.skip(f"{path / REL_V1} is missing from ALIGNLAB_DATA_DIR")
    return path


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ALIGNLAB_DATA_DIR, and an empty download cache under tmp_path."""
    monkeypatch.delenv("ALIGNLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("ALIGNLAB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_shared_reference_matches_the_pinned_checksum(ae_dir: Path) -> None:
    path = data.reference_path("1", ae_dir)
    assert path == ae_dir / REL_V1
    assert hashlib.sha256(path.read_bytes()).hexdigest() == data.PINNED_FILES[REL_V1]


def test_eval_set_is_805_instructions_with_the_pinned_digest(ae_dir: Path) -> None:
    reference = data.load_reference("1", ae_dir)
    items = data.eval_items(reference)
    assert len(items) == 805 == len({i.instruction for i in items})
    assert [i.index for i in items] == list(range(805))
    assert data.eval_set_digest([i.instruction for i in items]) == data.EVAL_SET_DIGEST
    assert {i.dataset for i in items} == {
        "helpful_base",
        "koala",
        "oasst",
        "selfinstruct",
        "vicuna",
    }


def test_results_folder_itself_is_accepted_as_data_dir(ae_dir: Path) -> None:
    assert data.reference_path("1", ae_dir / "results") == ae_dir / REL_V1


def test_checksum_mismatch_names_the_file(tmp_path: Path, ae_dir: Path) -> None:
    copy = tmp_path / REL_V1
    copy.parent.mkdir(parents=True)
    records = json.loads((ae_dir / REL_V1).read_text())
    records[0]["output"] += " (edited)"
    copy.write_text(json.dumps(records, indent=4))
    with pytest.raises(AlignlabError, match="checksum mismatch") as err:
        data.reference_path("1", tmp_path)
    assert str(copy) in str(err.value)
    assert data.ALPACA_EVAL_COMMIT in str(err.value)  # the pinned URL to fetch it from


def test_missing_file_in_data_dir_says_what_and_where(tmp_path: Path) -> None:
    with pytest.raises(AlignlabError, match="results/gpt4_1106_preview/model_outputs.json"):
        data.reference_path("2", tmp_path)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(AlignlabError, match="'3'"):
        data.reference_path("3", "/nonexistent")


def test_env_data_dir_is_used_and_nothing_downloaded(
    ae_dir: Path, no_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNLAB_DATA_DIR", str(ae_dir.parent))
    assert data.reference_path("1") == ae_dir / REL_V1
    assert not no_env.exists()


class _FileServer:
    """Serves one payload on 127.0.0.1 and counts the requests."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.payload)))
                self.end_headers()
                self.wfile.write(outer.payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{{commit}}/{{path}}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_is_verified_cached_and_done_once(ae_dir: Path, tmp_path: Path) -> None:
    server = _FileServer((ae_dir / REL_V1).read_bytes())
    try:
        first = data._cached_download(REL_V1, tmp_path, server.template)
        second = data._cached_download(REL_V1, tmp_path, server.template)
    finally:
        server.close()
    assert first == second == tmp_path / REL_V1
    assert server.paths == [f"/{data.ALPACA_EVAL_COMMIT}/{REL_V1}"]
    assert sha256_file(first) == data.PINNED_FILES[REL_V1]


def test_corrupt_download_is_refused_and_not_kept(tmp_path: Path) -> None:
    server = _FileServer(b"[]")
    try:
        with pytest.raises(AlignlabError, match="checksum mismatch.*downloaded from"):
            data._cached_download(REL_V1, tmp_path, server.template)
    finally:
        server.close()
    target = tmp_path / REL_V1
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary file left behind


def test_benchmark_version_names_eval_set_and_reference() -> None:
    assert data.benchmark_version("text_davinci_003") == "alpaca_eval1@cd543a1:text_davinci_003"
    assert data.benchmark_version("gpt4_1106_preview") == "alpaca_eval2@cd543a1:gpt4_1106_preview"
    other = data.benchmark_version("text_davinci_003", digest="0" * 64)
    assert other == "alpaca_eval@evalset-00000000:text_davinci_003"


def test_load_outputs_rejects_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "model_outputs.json"
    path.write_text(json.dumps([{"instruction": "x"}]))
    with pytest.raises(AlignlabError, match=r"record 0 lacks .*'output'"):
        data.load_outputs(path)
