"""What a run left beside summary.csv: run.json, stage manifests, answers and judge records.

Everything here tolerates absence: an imported experiment has none of it, an older run only some.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import AlignlabError
from harness.report.data import (
    ChatTemplate,
    LengthStats,
    ModelAnswer,
    Provenance,
    SampleItem,
    TurnAnswer,
)

SAMPLE_ITEMS = 2
"""Items per benchmark shown with every model's answers and the judge's text."""
JUDGE_TEXT_KEYS = ("judgment", "g1_judgment", "g2_judgment", "raw_completion")
"""Where benchmarks' records keep the judge's text (FastChat single/pairwise, alpaca_eval)."""


def load_run(root: Path) -> dict[str, Any] | None:
    """``run.json``, or None when the folder has none (imported experiments)."""
    path = root / "run.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise AlignlabError(
            f"{path} is not valid JSON ({err}); run the experiment again to rewrite it"
        ) from err


def _manifests(root: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((root / "stages").glob("*/manifest.json")):
        try:
            out[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue  # a damaged manifest: the stage is listed from run.json without details
    return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _evaluations(run: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((run or {}).get("evaluations") or [])


# ----------------------------------------------------------------------------- provenance


def provenance(root: Path, run: dict[str, Any] | None, summary: pd.DataFrame) -> Provenance:
    """Config, versions, git SHAs, judges, benchmark versions, chat templates and stages."""
    manifests = _manifests(root)
    used = _used_stages(run, manifests)
    prov = Provenance(
        judges=sorted(set(summary["judge"].dropna().astype(str))),
        benchmarks=sorted(
            set(
                zip(
                    summary["benchmark"].astype(str),
                    summary["benchmark_version"].astype(str),
                    strict=True,
                )
            )
        ),
        imports={p.stem: p.read_text(encoding="utf-8") for p in sorted(root.glob("import-*.json"))},
    )
    if run is not None:
        prov.config_path = run.get("config")
        prov.config_text = run.get("config_text")
        resolved = run.get("resolved_config")
        prov.resolved_config = json.dumps(resolved, indent=2) if resolved else None
        prov.seconds = run.get("seconds")
        prov.stages = [
            _stage_row(s, manifests.get(str(s.get("dirname")))) for s in run.get("stages") or []
        ]
    chosen = [manifests[d] for d in used if d in manifests]
    prov.git = _git_lines(chosen)
    prov.versions = _versions(chosen)
    prov.judges = _judges(chosen) or prov.judges
    prov.chat_templates = _chat_templates(run, manifests)
    return prov


def _stage_row(stage: dict[str, Any], manifest: dict[str, Any] | None) -> dict[str, Any]:
    """A stage of run.json with ``took``: its seconds when it ran (from its manifest)."""
    took = (manifest or {}).get("seconds", stage.get("seconds"))
    return {**stage, "took": took}


def _used_stages(run: dict[str, Any] | None, manifests: dict[str, dict[str, Any]]) -> list[str]:
    """The stage folders this run used (all folders when run.json does not list them)."""
    if run and run.get("stages"):
        return [s["dirname"] for s in run["stages"] if s.get("dirname")]
    return list(manifests)


def _git_lines(manifests: list[dict[str, Any]]) -> list[str]:
    lines = []
    for m in manifests:
        git = m.get("git") or {}
        if git.get("sha"):
            lines.append(f"{git['sha']}{' (uncommitted changes)' if git.get('dirty') else ''}")
    return list(dict.fromkeys(lines))


def _versions(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """Package -> version; several versions (stages run at different times) joined by ' / '."""
    seen: dict[str, list[str]] = {}
    for m in manifests:
        for pkg, ver in (m.get("versions") or {}).items():
            if str(ver) not in seen.setdefault(pkg, []):
                seen[pkg].append(str(ver))
    return {pkg: " / ".join(vers) for pkg, vers in seen.items()}


def _judges(manifests: list[dict[str, Any]]) -> list[str]:
    out = []
    for m in manifests:
        judge = m.get("judge") or {}
        if judge:
            out.append(f"{judge.get('name')} (model {judge.get('model')})")
    return sorted(set(out))


def _chat_templates(
    run: dict[str, Any] | None, manifests: dict[str, dict[str, Any]]
) -> list[ChatTemplate]:
    """Distinct chat templates of the generate stages, with the models that used each."""
    by_sha: dict[str, ChatTemplate] = {}
    arms = {ev["generate"]: ev["model"] for ev in _evaluations(run)}
    for dirname, m in manifests.items():
        gen = m.get("generator") or {}
        sha = gen.get("chat_template_sha256")
        if m.get("kind") != "generate" or not sha or (arms and dirname not in arms):
            continue
        model = arms.get(dirname, str(m.get("label", dirname)))
        entry = by_sha.setdefault(
            sha, ChatTemplate([], sha, gen.get("chat_template_source"), gen.get("rendered_example"))
        )
        if model not in entry.models:
            entry.models.append(model)
    return list(by_sha.values())


# ----------------------------------------------------------------------------- answers


def answer_lengths(root: Path, run: dict[str, Any] | None) -> list[LengthStats]:
    """Words per answered turn, per model and benchmark, from the generate stages' answers."""
    out = []
    for ev in _evaluations(run):
        rows = _read_jsonl(root / "stages" / ev["generate"] / "answers.jsonl")
        if not rows:
            continue
        texts = [a for r in rows for a in (r.get("answers") or []) if a is not None]
        words = [len(str(t).split()) for t in texts]
        out.append(LengthStats(ev["model"], ev["benchmark"], words, sum(w == 0 for w in words)))
    return out


def samples(
    root: Path, run: dict[str, Any] | None, k: int = SAMPLE_ITEMS
) -> dict[str, list[SampleItem]]:
    """Per benchmark, the first ``k`` items with each model's answers and judge texts."""
    out: dict[str, list[SampleItem]] = {}
    for ev in _evaluations(run):
        rows = _read_jsonl(root / "stages" / ev["generate"] / "answers.jsonl")
        if not rows:
            continue
        items = out.setdefault(
            ev["benchmark"], [_sample_item(ev["benchmark"], r) for r in rows[:k]]
        )
        records = _records_by_item(root, ev["model"], ev["benchmark"])
        by_id = {str(r["id"]): r for r in rows}
        for item in items:
            given = list((by_id.get(item.item_id) or {}).get("answers") or [])
            item.answers.append(ModelAnswer(ev["model"], _turns(item, given, records)))
            whole = records.get((item.item_id, 0)) or {}
            if item.reference is None and whole.get("output_1") is not None:
                item.reference = str(whole["output_1"])
                item.reference_model = whole.get("generator_1")
    return out


def _sample_item(benchmark: str, row: dict[str, Any]) -> SampleItem:
    return SampleItem(benchmark, str(row["id"]), row.get("category"), list(row.get("turns") or []))


def _turns(
    item: SampleItem, given: list[str], records: dict[tuple[str, int], dict[str, Any]]
) -> list[TurnAnswer]:
    n = max(len(item.questions), len(given))
    out = []
    for turn in range(1, n + 1):
        rec = records.get((item.item_id, turn)) or records.get((item.item_id, 0)) or {}
        out.append(
            TurnAnswer(
                answer=given[turn - 1] if turn <= len(given) else None,
                judge_text=_judge_text(rec),
                verdict=_verdict(rec),
                note=_position(rec),
            )
        )
    return out


def _records_by_item(root: Path, model: str, bench: str) -> dict[tuple[str, int], dict[str, Any]]:
    """(item id, turn) -> judge record; turn 0 for records of a whole item (pairwise)."""
    path = root / "evaluations" / f"{model}__{bench}.records.jsonl"
    out = {}
    for r in _read_jsonl(path):
        item = r.get("question_id", r.get("id"))
        if item is not None:
            out[(str(item), int(r.get("turn") or 0))] = r
    return out


def _judge_text(record: dict[str, Any]) -> str | None:
    texts = [str(record[k]) for k in JUDGE_TEXT_KEYS if record.get(k)]
    if record.get("error"):
        texts.append(f"(failed: {record['error']})")
    return "\n\n".join(texts) or None


def _verdict(record: dict[str, Any]) -> str | None:
    """A rating, or the model's outcome against the reference of a pairwise record."""
    if "output_1" in record:  # pairwise against a reference (toy or alpaca_eval records)
        outcome = record.get("score")
        if outcome is None and record.get("preference") is not None:
            outcome = float(record["preference"]) - 1.0  # alpaca_eval: 2 = the model wins
        if outcome is None or outcome == -1:
            return "not judged"
        names = {1.0: "win", 0.5: "draw", 0.0: "loss"}
        return names.get(float(outcome), f"{float(outcome):.2f} of a win")
    score = record.get("score")
    if score is None:
        return None
    return "not rated" if score == -1 else f"rating {score}"


def _position(record: dict[str, Any]) -> str | None:
    if "swapped" not in record:
        return None
    return f"the model's answer was shown to the judge as {'B' if record['swapped'] else 'A'}"
