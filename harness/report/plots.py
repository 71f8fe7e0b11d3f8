"""The report's figures, drawn with matplotlib (Agg, no display) and saved as PNG.

One function per figure; each takes plain data and a path and returns the path. Every model
keeps one colour across all figures (``model_colors``). matplotlib is imported inside the
functions, so importing this module costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.report.data import Cell, LengthStats, Report, TurnRow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
"""matplotlib's tab10: distinct colours, readable on white."""
DPI = 150
DISPLAY_SCALE = 100 / DPI
"""report.html shows figures at 100 pixels per inch; the PNGs have 1.5x that, for sharpness."""


@dataclass
class FigureFile:
    """A saved figure and the words that go with it in a report."""

    key: str
    title: str
    caption: str
    path: Path


def model_colors(models: list[str]) -> dict[str, str]:
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")  # Figure.savefig uses Agg
    return path


def _err(cells: list[Cell]) -> list[list[float]]:
    """Asymmetric error-bar lengths from CIs (0 where a CI is unknown)."""
    low = [c.value - c.ci_low if c.ci_low is not None else 0.0 for c in cells]
    high = [c.ci_high - c.value if c.ci_high is not None else 0.0 for c in cells]
    return [low, high]


def radar_plot(
    bench: str, scores: dict[str, dict[str, float]], colors: dict[str, str], path: Path
) -> Path:
    """Mean rating per category, one polygon per model (the paper's Figure 1)."""
    categories = list(dict.fromkeys(c for cats in scores.values() for c in cats))
    angles = [2 * math.pi * i / len(categories) for i in range(len(categories))]
    ncol = 3 if max(len(m) for m in scores) <= 12 else 2  # legend columns that fit
    fig = _figure(5.3, 4.6 + 0.2 * math.ceil(len(scores) / ncol))
    ax: Any = fig.add_subplot(projection="polar")  # a PolarAxes
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    for model, cats in scores.items():
        values = [cats.get(c, math.nan) for c in categories]
        ax.plot([*angles, angles[0]], [*values, values[0]], color=colors[model], lw=2, label=model)
        ax.fill([*angles, angles[0]], [*values, values[0]], color=colors[model], alpha=0.04)
    ax.set_xticks(angles, [c.replace("_", " ") for c in categories], fontsize=10)
    ax.tick_params(axis="x", pad=8)
    ax.set_ylim(0, 10)
    ax.set_rlabel_position(180 / len(categories))  # between the first two spokes
    ax.set_yticks([2, 4, 6, 8, 10], ["2", "4", "6", "8", "10"], fontsize=8, color="#666")
    fig.suptitle(f"{bench}: mean rating per category (1-10)", fontsize=11)
    fig.legend(loc="outside lower center", ncol=min(ncol, len(scores)), fontsize=9, frameon=False)
    return _save(fig, path)


def win_rate_plot(
    bench: str, rows: list[tuple[str, Cell]], colors: dict[str, str], path: Path
) -> Path:
    """Win rate against the benchmark's reference answers, with 95% CI error bars."""
    models = [m for m, _ in rows]
    cells = [c for _, c in rows]
    fig = _figure(5.3, 0.5 * len(rows) + 1.5)
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [c.value for c in cells], color=[colors[m] for m in models], height=0.6)
    ax.errorbar(
        [c.value for c in cells], y, xerr=_err(cells), fmt="none", ecolor="#222", capsize=4, lw=1.2
    )
    for yi, c in zip(y, cells, strict=True):
        ax.text(min(c.ci_high or c.value, 100) + 1.5, yi, f"{c.value:.1f}", va="center", fontsize=9)
    ax.axvline(50, color="#888", ls="--", lw=1)
    ax.set_yticks(y, models)
    ax.set_xlim(0, 105)
    ax.set_xlabel("win rate (%) against the reference answers, 95% CI")
    ax.set_title(f"{bench}: win rate", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def turn_plot(bench: str, rows: list[TurnRow], colors: dict[str, str], path: Path) -> Path:
    """Turn 1 against turn 2 per model, with 95% CI error bars."""
    fig = _figure(max(5.0, 1.1 * len(rows) + 2.0), 3.8)
    ax = fig.add_subplot()
    x = list(range(len(rows)))
    width = 0.38
    for offset, turn, hatch, alpha in ((-0.2, 1, "", 1.0), (0.2, 2, "//", 0.55)):
        cells = [r.turn1 if turn == 1 else r.turn2 for r in rows]
        ax.bar(
            [xi + offset for xi in x],
            [c.value for c in cells],
            width,
            color=[colors[r.model] for r in rows],
            alpha=alpha,
            hatch=hatch,
            edgecolor="white",
            label=f"turn {turn}",
        )
        ax.errorbar(
            [xi + offset for xi in x],
            [c.value for c in cells],
            yerr=_err(cells),
            fmt="none",
            ecolor="#222",
            capsize=3,
            lw=1,
        )
    _model_ticks(ax, x, [r.model for r in rows])
    ax.set_ylim(0, 10.5)
    ax.set_ylabel("mean rating (1-10), 95% CI")
    ax.set_title(f"{bench}: turn 1 (solid) against turn 2 (hatched)", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def _model_ticks(ax: Any, x: list[int], models: list[str]) -> None:
    """Model names under the x axis, slanted when they are long."""
    slant = max((len(m) for m in models), default=0) * len(models) > 48
    ax.set_xticks(x, models, rotation=25 if slant else 0, ha="right" if slant else "center")


def length_plot(lengths: list[LengthStats], colors: dict[str, str], path: Path) -> Path:
    """Distribution of answer lengths (words per answered turn), per benchmark and model."""
    benches = list(dict.fromkeys(s.benchmark for s in lengths))
    fig = _figure(max(5.0, 3.6 * len(benches)), 3.8)
    axes = fig.subplots(1, len(benches), squeeze=False)[0]
    for ax, bench in zip(axes, benches, strict=True):
        stats = [s for s in lengths if s.benchmark == bench and s.words]
        box = ax.boxplot([s.words for s in stats], patch_artist=True, widths=0.6, showmeans=True)
        for patch, s in zip(box["boxes"], stats, strict=True):
            patch.set_facecolor(colors.get(s.model, "#999"))
            patch.set_alpha(0.75)
        _model_ticks(ax, list(range(1, len(stats) + 1)), [s.model for s in stats])
        ax.set_title(bench, fontsize=10)
        ax.set_ylabel("words per answer")
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Answer lengths (box: quartiles; triangle: mean)", fontsize=11)
    return _save(fig, path)


def draw_figures(report: Report, out_dir: Path) -> list[FigureFile]:
    """Every figure the report has data for, saved under ``out_dir``."""
    colors = model_colors(report.models)
    figures: list[FigureFile] = []
    for bench, scores in report.radar.items():
        figures.append(
            _fig(
                f"radar-{bench}",
                f"{bench}: categories",
                _RADAR,
                radar_plot,
                out_dir,
                bench,
                scores,
                colors,
            )
        )
    for bench, rows in report.win_rates.items():
        figures.append(
            _fig(
                f"win-rate-{bench}",
                f"{bench}: win rate",
                _WIN,
                win_rate_plot,
                out_dir,
                bench,
                rows,
                colors,
            )
        )
    for bench, turns in report.turns.items():
        figures.append(
            _fig(
                f"turns-{bench}",
                f"{bench}: turn 1 and turn 2",
                _TURNS,
                turn_plot,
                out_dir,
                bench,
                turns,
                colors,
            )
        )
    if any(s.words for s in report.lengths):
        path = length_plot(report.lengths, colors, out_dir / "answer-lengths.png")
        figures.append(FigureFile("answer-lengths", "Answer lengths", _LENGTHS, path))
    return figures


_RADAR = "Mean judge rating per question category, per model (like the paper's Figure 1)."
_WIN = (
    "Share of items where the judge preferred the model's answer to the reference answer "
    "(a draw counts half), with 95% confidence intervals; the dashed line marks 50%."
)
_TURNS = "Mean rating of the first and of the follow-up turn, with 95% confidence intervals."
_LENGTHS = "Words per answered turn; long answers can sway LLM judges (length bias)."


def _fig(key: str, title: str, caption: str, draw: Any, out_dir: Path, *args: Any) -> FigureFile:
    path = draw(*args, out_dir / f"{_slug(key)}.png")
    return FigureFile(_slug(key), title, caption, path)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)
