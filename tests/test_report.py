"""`alignlab report`: report.md and a self-contained, escaped report.html with tables and plots.

Fast tests build a small results folder by hand (summary.csv, run.json, stage manifests, answers,
per-item outcomes, judge records). The slow test runs the real tiny ablation, reports it and
opens report.html in headless Chromium (installed by .ci/setup from Debian's packages).
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.leaderboards import load_reference_rows
from harness.report.write import write_report
from harness.scoring import SUMMARY_COLUMNS

REPO = Path(__file__).resolve().parent.parent
MODELS = ("sft", "dpo")
CATEGORIES = ("arithmetic", "lookup", "describe")
EVIL_ANSWER = "Sure! <script>alert(1)</script> done"
EVIL_JUDGE = "The answer is <b>bold</b> but wrong. Rating: [[2]]"
EVIL_CONFIG = "experiment: synth  # </pre><script>alert('config')</script>\n"
DATA_URI = 'src="data:image/png;base64,'
MT_VERSION = "mt_bench-fastchat-0e6d3e4b-prompts-fd283293-questions-119565ad"


# ----------------------------------------------------------------------------- fixtures


def summary_rows(experiment: str, bench: str, version: str, judge: str) -> list[dict]:
    """Headline, turn and category rows of an MT-Bench-like benchmark, win rates of a toy one."""
    rows = []
    for i, model in enumerate(MODELS):
        base = {"experiment": experiment, "model": model, "recipe": model, "judge": judge}
        mt = {**base, "benchmark": bench, "benchmark_version": version, "n": 8, "n_failed": 0}
        score = 6.0 - 2 * i
        rows.append(
            {**mt, "metric": "score", "value": score, "ci_low": score - 1, "ci_high": score + 1}
        )
        for turn, delta in ((1, 0.5), (2, -0.5)):
            v = score + delta
            rows.append(
                {**mt, "metric": f"score_turn{turn}", "value": v, "ci_low": v - 1, "ci_high": v + 1}
            )
        for j, cat in enumerate(CATEGORIES):
            rows.append(
                {
                    **mt,
                    "metric": f"score_{cat}",
                    "value": score + j - 1,
                    "ci_low": None,
                    "ci_high": None,
                }
            )
        ae = {**base, "benchmark": "toy_alpaca_eval", "benchmark_version": "1", "n": 3}
        wr = 66.0 - 30 * i
        rows.append(
            {
                **ae,
                "metric": "win_rate",
                "value": wr,
                "ci_low": wr - 20,
                "ci_high": wr + 20,
                "n_failed": 1,
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_results(
    root: Path, bench: str = "toy_mt_bench", version: str = "1", judge: str = "toy-rubric-v1"
) -> Path:
    """A finished run's folder: two arms on an MT-Bench-like and an AlpacaEval-like benchmark."""
    root.mkdir(parents=True)
    rows = summary_rows("synth", bench, version, judge)
    pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(root / "summary.csv", index=False)
    evaluations, stages = [], []
    for model in MODELS:
        for b, turns in ((bench, 2), ("toy_alpaca_eval", 1)):
            gen, jud = f"generate-{model}.{b}-000", f"judge-{model}.{b}-000"
            _stage(root, gen, model, b, turns)
            _judge_stage(root, jud, model, b, turns)
            evaluations.append(
                {"model": model, "recipe": model, "benchmark": b, "generate": gen, "judge": jud}
            )
            stages += [_log("generate", gen), _log("judge", jud)]
    (root / "evaluations" / "failures.json").write_text(
        json.dumps(
            {
                f"{m} / toy_alpaca_eval": {
                    "expected": 4,
                    "judged": 3,
                    "reasons": {"no verdict in the judgment": 1},
                    "judge_errors": 0,
                }
                for m in MODELS
            }
        )
    )
    run = {
        "experiment": "synth",
        "config": "configs/synth.yaml",
        "config_text": EVIL_CONFIG,
        "resolved_config": {
            "experiment": "synth",
            "description": "A hand-made results folder.",
            "reproduces": {
                "table": "zephyr_table3",
                "rows": {"sft": "mistral-7b-v0.1/sft", "dpo": "mistral-7b-v0.1/dpo"},
                "benchmarks": {"toy_mt_bench": "mt_bench", "toy_alpaca_eval": "alpaca_eval"},
            },
        },
        "seconds": 12.5,
        "stages": stages,
        "evaluations": evaluations,
    }
    (root / "run.json").write_text(json.dumps(run))
    return root


def _log(kind: str, dirname: str) -> dict:
    return {"kind": kind, "label": dirname, "dirname": dirname, "status": "ran", "seconds": 1.0}


def _manifest(kind: str, **extra) -> dict:
    return {
        "kind": kind,
        "versions": {"python": "3.11", "torch": "2.13"},
        "git": {"sha": "abc123", "dirty": False},
        **extra,
    }


def _stage(root: Path, dirname: str, model: str, bench: str, turns: int) -> None:
    folder = root / "stages" / dirname
    answers = [
        {
            "id": f"q{k}",
            "category": CATEGORIES[k % 3],
            "turns": [f"question {k}.{t}" for t in range(turns)],
            "answers": [EVIL_ANSWER if k == 0 else " ".join(["word"] * (k + 1))] * turns,
        }
        for k in range(4)
    ]
    write_jsonl(folder / "answers.jsonl", answers)
    gen = {
        "chat_template_sha256": "f" * 64,
        "chat_template_source": "tokenizer",
        "rendered_example": "<|user|>\nHi</s>",
    }
    (folder / "manifest.json").write_text(
        json.dumps(_manifest("generate", label=f"{model}/{bench}", generator=gen))
    )
    per_item = {f"q{k}": float((k + len(model)) % 3) / 2 for k in range(4)}
    (root / "evaluations").mkdir(exist_ok=True)
    (root / "evaluations" / f"{model}__{bench}.per_item.json").write_text(json.dumps(per_item))
    if turns == 2:
        records = [
            {"question_id": f"q{k}", "turn": t, "judgment": EVIL_JUDGE, "score": 2}
            for k in range(4)
            for t in (1, 2)
        ]
    else:
        records = [
            {
                "question_id": f"q{k}",
                "output_1": "the reference <i>answer</i>",
                "generator_1": "ref",
                "judgment": EVIL_JUDGE,
                "score": 1.0,
                "swapped": True,
            }
            for k in range(4)
        ]
    write_jsonl(root / "evaluations" / f"{model}__{bench}.records.jsonl", records)


def _judge_stage(root: Path, dirname: str, model: str, bench: str, turns: int) -> None:
    folder = root / "stages" / dirname
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps(_manifest("judge", judge={"name": "toy_rubric", "model": "toy-rubric-v1"}))
    )


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = make_results(tmp_path_factory.mktemp("report") / "synth")
    md, page = write_report(root)
    return root, md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- fast tests


def test_report_writes_markdown_and_html_with_the_ablation_table(synth):
    root, md, page = synth
    assert (root / "report.md").is_file() and (root / "report.html").is_file()
    ablation = page.split('id="ablation"')[1].split("</table>")[0]
    for model in MODELS:
        assert f"<td>{model}</td>" in ablation
    assert "6.00 [5.00, 7.00]" in ablation and "36.00 [16.00, 56.00] (1 failed)" in ablation
    assert "| sft | sft | 6.00 [5.00, 7.00] | 66.00 [46.00, 86.00] (1 failed) |" in md


def test_every_figure_is_an_embedded_png_of_the_saved_file(synth):
    root, md, page = synth
    pngs = sorted((root / "report").glob("*.png"))
    names = {p.stem for p in pngs}
    assert names == {
        "radar-toy_mt_bench",
        "win-rate-toy_alpaca_eval",
        "turns-toy_mt_bench",
        "answer-lengths",
    }
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert page.count(DATA_URI) == len(pngs) == len(uris)
    assert {base64.b64decode(u) for u in uris} == {p.read_bytes() for p in pngs}
    for p in pngs:
        assert f"](report/{p.name})" in md  # report.md links the same files


def test_html_is_self_contained(synth):
    _, _, page = synth
    lowered = page.lower()
    for external in ("<link", "@import", "url(", 'src="http', "src='http", "<iframe", "<object"):
        assert external not in lowered, external


def test_model_output_and_judge_text_render_as_text(synth):
    _, _, page = synth
    assert "<script" not in page.lower()  # the report has no script of its own either
    assert html.escape(EVIL_ANSWER, quote=False) in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(" in page  # the config text, escaped too
    assert "the reference &lt;i&gt;answer&lt;/i&gt;" in page and "<i>" not in page


def test_toy_benchmarks_are_flagged_not_comparable_with_the_paper_and_references(synth):
    _, md, page = synth
    for text in (md, page):
        assert text.count("NOT COMPARABLE") >= 2  # reference rows and the paper's table
    paper = page.split('id="paper"')[1].split("</section>")[0]
    assert "difference" not in paper.split("<table")[1].split("</thead>")[0]  # no difference column
    assert "4.76" in paper and "6.64" in paper  # the paper's Table 3 numbers, as context
    assert "judge: this run toy-rubric-v1, the paper gpt-4" in paper


def test_paired_comparisons_and_failures_are_shown(synth):
    _, md, page = synth
    paired = page.split('id="paired"')[1].split("</table>")[0]
    assert paired.count("<tr") == 1 + 2  # header + one pair on each of the two benchmarks
    assert "dpo − sft" in paired
    assert "judged 3 of 4 (1 x no verdict in the judgment)" in md
    assert "2 of 8 expected judgments failed" in page


def test_provenance_lists_config_judge_versions_and_chat_template(synth):
    _, md, page = synth
    prov = page.split('id="provenance"')[1]
    for text in (
        "configs/synth.yaml",
        "toy_rubric (model toy-rubric-v1)",
        "abc123",
        "f" * 64,
        "torch",
    ):
        assert text in prov and text in md, text


def test_comparable_reference_rows_get_a_difference(tmp_path):
    root = make_results(tmp_path / "real", bench="mt_bench", version=MT_VERSION, judge="gpt-4")
    md, page = (p.read_text() for p in write_report(root))
    refs = load_reference_rows()
    llama = refs[(refs.model == "llama-2-70b-chat") & (refs.benchmark == "mt_bench")].value.iloc[0]
    section = page.split('id="references"')[1].split("</section>")[0]
    comparable = section.split("Not comparable")[0]
    assert f"{6.0 - llama:+.2f}" in comparable and "llama-2-70b-chat" in comparable
    assert "alpaca_eval" in section.split("Not comparable")[1]  # the toy win rate stays flagged


def test_imported_folder_without_run_json_still_reports(tmp_path):
    root = tmp_path / "imported"
    root.mkdir()
    rows = [
        r
        for r in summary_rows("imported", "mt_bench", MT_VERSION, "gpt-4")
        if r["benchmark"] == "mt_bench"
    ]
    pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(root / "summary.csv", index=False)
    (root / "import-mt_bench.json").write_text(json.dumps({"data_dir": "/data/fastchat"}))
    md, page = (p.read_text() for p in write_report(root))
    assert "run.json is missing" in md and "run.json is missing" in page
    assert "no per-item outcomes" in page  # why there are no paired comparisons
    assert "/data/fastchat" in page  # the import's own record
    assert page.count(DATA_URI) == 2  # radar and turns; no answers, no win rate
    assert "Sample answers" in page and "No answers in this results folder" in page


def test_cli_report_writes_both_files(tmp_path, capsys):
    root = make_results(tmp_path / "cli")
    assert main(["report", str(root)]) == 0
    out = capsys.readouterr().out
    assert "report.md" in out and "report.html" in out
    assert (root / "report.html").stat().st_size > 10_000


def test_cli_report_on_a_missing_folder_fails_clearly(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) != 0
    assert "no such results folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) != 0
    err = capsys.readouterr().err
    assert "no summary.csv" in err and "alignlab run" in err


# ----------------------------------------------------------------------------- Chromium

PROBE = """<script>
window.__probeErrors = [];
window.addEventListener("error", function (e) {
  window.__probeErrors.push(String(e.message || (e.target && (e.target.currentSrc || e.target.tagName))));
}, true);
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var rows = document.querySelectorAll("#ablation table tbody tr");
  var answers = Array.prototype.map.call(document.querySelectorAll("#samples pre"), function (p) {
    return p.textContent;
  });
  var out = {
    errors: window.__probeErrors,
    scripts: document.scripts.length,
    sample_texts: answers,
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    ablation_models: Array.prototype.map.call(rows, function (r) { return r.cells[0].textContent; }),
    tables: document.querySelectorAll("table").length
  };
  var pre = document.createElement("pre");
  pre.id = "alignlab-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")
PLOT_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is not installed: run .ci/setup (it installs Debian's "
        "`chromium` package) or `apt-get install chromium`"
    )


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        chromium(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def probe(page: Path, tmp_path: Path) -> dict:
    """Open a copy of ``page`` with a probe script; return what it saw after the load event."""
    copy = tmp_path / "probe.html"
    copy.write_text(
        page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8"
    )
    dom = run_chromium(["--dump-dom", copy.as_uri()], tmp_path / "profile-dom").stdout
    found = re.search(r'<pre id="alignlab-probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; Chromium's DOM begins: {dom[:300]!r}"
    return json.loads(html.unescape(found.group(1)))


def color_pixels(png: Path, hex_color: str, tol: float = 0.04) -> int:
    from matplotlib import image

    rgb = image.imread(png)[..., :3]
    target = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return int((abs(rgb - target) < tol).all(axis=-1).sum())


def test_script_in_a_model_output_shows_as_text_in_chromium(synth, tmp_path):
    root, _, _ = synth
    seen = probe(root / "report.html", tmp_path)
    assert seen["scripts"] == 1  # the probe's own; the answer's <script> is text, not an element
    assert EVIL_ANSWER in seen["sample_texts"]  # shown exactly as the model wrote it
    assert EVIL_JUDGE in seen["sample_texts"]
    assert seen["errors"] == [] and seen["loaded"] == seen["images"] == 4


@pytest.mark.slow
def test_tiny_ablation_report_opens_in_chromium(tmp_path):
    from matplotlib import image

    results = tmp_path / "results"
    assert main(["run", str(REPO / "configs" / "tiny.yaml"), "--results-dir", str(results)]) == 0
    root = results / "tiny"
    assert main(["report", str(root)]) == 0
    page = root / "report.html"

    seen = probe(page, tmp_path)
    assert seen["errors"] == []
    assert seen["images"] >= 4 and seen["loaded"] == seen["images"], seen
    assert seen["ablation_models"] == ["base", "sft", "sft-dpo", "dpo", "sft-sft"]

    shot = tmp_path / "report-screenshot.png"
    run_chromium(
        [f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars", page.as_uri()],
        tmp_path / "profile-shot",
    )
    print(f"screenshot of the tiny ablation's report: {shot}")
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    assert (pixels < 0.9).any(axis=-1).mean() > 0.03, "the screenshot is (almost) blank"
    for color in PLOT_COLORS:  # each arm's colour in the radar and the win-rate bars
        assert color_pixels(shot, color) > 300, f"no {color} plot pixels in {shot}"
