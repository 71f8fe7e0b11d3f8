"""report.md: the report's tables and figures as GitHub-flavoured Markdown.

Sample answers are left to report.html (where they are escaped); figures are linked PNGs.
"""

from __future__ import annotations

from pathlib import Path

from harness.report import tables as t
from harness.report.data import Report
from harness.report.plots import FigureFile
from harness.scoring import failure_lines


def md_table(table: t.TextTable) -> list[str]:
    """A Markdown table; ``|`` and line breaks in cells are escaped, significant rows bold."""

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(_cell(c) for c in cells) + " |"

    align = ["---:" if i in table.numeric else "---" for i in range(len(table.headers))]
    body = [
        row([f"**{c}**" for c in cells] if flag == "significant" else cells)
        for cells, flag in zip(table.rows, table.flags, strict=True)
    ]
    return [row(table.headers), "| " + " | ".join(align) + " |", *body]


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, figures: list[FigureFile], base: Path) -> str:
    """The whole report; figure links are relative to ``base`` (report.md's folder)."""
    lines = [f"# {report.experiment}", ""]
    if report.description:
        lines += [report.description, ""]
    lines += [
        "Written by `alignlab report`; report.html has the same content with the figures "
        "embedded and sample answers.",
        "",
    ]
    lines += _ablation(report) + _paired(report) + _references(report) + _paper(report)
    lines += _figures(figures, base) + _turns_lengths(report) + _failures(report)
    lines += _provenance(report) + _missing(report)
    return "\n".join(lines).rstrip() + "\n"


def _section(title: str, *parts: list[str] | str | None) -> list[str]:
    out = [f"## {title}", ""]
    for part in parts:
        if part is None:
            continue
        out += [part, ""] if isinstance(part, str) else [*part, ""]
    return out


def _ablation(report: Report) -> list[str]:
    table = md_table(t.ablation_table(report))
    return _section("Ablation: headline metric per arm", table, t.ABLATION_NOTE)


def _paired(report: Report) -> list[str]:
    table = t.paired_table(report)
    notes = [f"- {n}" for n in report.paired_notes]
    if table is None:
        return _section("Differences between arms (paired)", notes or ["- none"])
    return _section(
        "Differences between arms (paired)", md_table(table), t.paired_note(report), notes or None
    )


def _references(report: Report) -> list[str]:
    refs = report.references
    comparable, flagged = t.comparable_table(report), t.reference_rows_table(report, True)
    used = t.reference_rows_table(report, False)
    parts: list[list[str] | str | None] = [t.references_note(report)]
    if comparable is not None and used is not None:
        parts += [md_table(comparable), "The reference rows:", md_table(used)]
    if flagged is not None:
        parts += [
            "**Not comparable with this run** (shown for orientation only):",
            md_table(flagged),
        ]
    if refs.problems:
        parts.append(["Why:", "", "```text", *refs.problems, "```"])
    return _section("Against reference models", *parts)


def _paper(report: Report) -> list[str]:
    table = t.paper_rows_table(report)
    if table is None or report.paper is None:
        return []
    return _section(
        f"The paper's {report.paper.table} beside this run", t.paper_note(report), md_table(table)
    )


def _figures(figures: list[FigureFile], base: Path) -> list[str]:
    if not figures:
        return []
    lines = []
    for f in figures:
        rel = f.path.relative_to(base).as_posix() if f.path.is_relative_to(base) else str(f.path)
        lines += [f"![{f.title}]({rel})", "", f"*{f.caption}*", ""]
    return _section("Figures", lines)


def _turns_lengths(report: Report) -> list[str]:
    out = []
    turns, lengths = t.turn_table(report), t.length_table(report)
    if turns is not None:
        out += _section("Turn 1 against turn 2", md_table(turns))
    if lengths is not None:
        out += _section("Answer lengths (words per answered turn)", md_table(lengths))
    return out


def _failures(report: Report) -> list[str]:
    failed = sum(f.failed for f in report.failures)
    expected = sum(f.expected for f in report.failures)
    head = (
        f"**{failed} of {expected} expected judgments failed**: left out of the means, counted "
        'in the tables\' "(k failed)".'
        if failed
        else f"None: all {expected} expected judgments were made and parsed."
    )
    recorded = {
        f.name: {"expected": f.expected, "judged": f.judged, "reasons": f.reasons}
        for f in report.failures
    }
    lines = failure_lines(recorded) if failed else None
    table = md_table(t.failure_table(report))
    return _section("Failures", head, lines, table, report.failures_note)


def _provenance(report: Report) -> list[str]:
    p = report.provenance
    facts = [
        f"- results folder: `{report.root}`",
        f"- config: `{p.config_path}`" if p.config_path else "- config: not recorded",
        f"- git: {', '.join(f'`{g}`' for g in p.git) or 'not recorded'}",
        f"- judges: {', '.join(p.judges) or 'not recorded'}",
    ]
    if t.run_time(report):
        facts.append(f"- run time: {t.run_time(report)}")
    for tpl in p.chat_templates:
        facts.append(
            f"- chat template sha256 `{tpl.sha256}` ({tpl.source or 'source not recorded'}): "
            f"{', '.join(tpl.models)}"
        )
    parts: list[list[str] | str | None] = [facts, md_table(t.benchmark_table(report))]
    versions, stages = t.version_table(report), t.stage_table(report)
    if versions is not None:
        parts.append(md_table(versions))
    if stages is not None:
        parts.append(md_table(stages))
    if p.config_text:
        parts.append(["The config as written:", "", "```yaml", p.config_text.rstrip(), "```"])
    for name, text in p.imports.items():
        parts.append([f"`{name}.json`:", "", "```json", text.rstrip(), "```"])
    return _section("Provenance", *parts)


def _missing(report: Report) -> list[str]:
    if not report.missing:
        return []
    return _section("Not in this report", [f"- {m}" for m in report.missing])
