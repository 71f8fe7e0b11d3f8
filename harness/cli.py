"""The `alignlab` command line: run, validate, list (and the import/report commands).

Heavy libraries are imported inside the commands that need them, so `alignlab --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.errors import AlignlabError, DryRunStop

console = Console()
err_console = Console(stderr=True)


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.runner import quiet_libraries
    from harness.validate import validate_file

    quiet_libraries()
    exp = validate_file(args.config)
    console.print(
        f"[green]ok[/] {args.config}: experiment {exp.experiment!r}, {len(exp.arms)} arms, "
        f"{len(exp.benchmarks)} benchmarks"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from harness import registry

    kinds = [args.kind] if args.kind else list(registry.KINDS)
    table = Table(title="alignlab plugins", show_lines=False)
    table.add_column("kind", style="bold")
    table.add_column("name", style="cyan")
    table.add_column("description")
    table.add_column("from", style="dim")
    for kind in kinds:
        for name, doc, target in registry.describe(kind):
            table.add_row(kind, name, doc, target)
    console.print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from harness import runner
    from harness.report.terminal import print_ablation, print_paired
    from harness.validate import validate_file

    if args.data_dir:  # read by the benchmarks' data loaders (MT-Bench, AlpacaEval)
        os.environ["ALIGNLAB_DATA_DIR"] = str(args.data_dir.resolve())
    exp = validate_file(args.config)
    if args.results_dir:
        exp.results_dir = args.results_dir
    result = runner.run(exp, console=console, config_path=args.config)
    ran, reused = len(result.ran), len(result.log) - len(result.ran)
    console.print(f"stages: {ran} ran, {reused} reused; {result.seconds:.1f}s in all")
    print_ablation(console, result.store.root)
    print_paired(console, result.store.root, table=result.paired)
    root = result.store.root
    console.print(f"wrote {root / 'summary.csv'}, {root / 'report.md'} and {root / 'report.html'}")
    return 0


def cmd_import_mt_bench(args: argparse.Namespace) -> int:
    import json

    from harness.imports import import_into
    from plugins.benchmarks.mt_bench import import_published

    out = Path(args.results_dir) / args.experiment / "imported" / "mt_bench"
    result = import_published(args.data_dir, out_dir=out)
    root = import_into(
        args.results_dir, args.experiment, "mt_bench", result, {"data_dir": str(args.data_dir)}
    )
    keys = (
        "records",
        "prompt_matches",
        "prompt_mismatches",
        "score_matches",
        "duplicates",
        "models",
    )
    if args.json:
        print(
            json.dumps(
                {k: result[k] for k in keys} | {"pairwise": result.get("pairwise")}, allow_nan=False
            )
        )
    else:
        _print_import_mt_bench(result, root)
    bad = result["prompt_mismatches"] or result.get("score_mismatches")
    pw = result.get("pairwise") or {}
    return 1 if bad or pw.get("prompt_mismatches") or pw.get("winner_mismatches") else 0


def _print_import_mt_bench(result: dict[str, Any], root: Path) -> None:
    from rich.table import Table

    console.print(
        f"{result['records']} single judgments: {result['prompt_matches']} judge prompts rebuilt "
        f"byte-identical, {result['score_matches']} scores re-parsed identical, "
        f"{len(result['prompt_mismatches'])} prompt mismatches, {len(result['duplicates'])} duplicate records"
    )
    table = Table(title="MT-Bench (FastChat show_result semantics)")
    for col in ("model", "score", "turn 1", "turn 2"):
        table.add_column(col, justify="left" if col == "model" else "right")
    models = sorted(result["models"].items(), key=lambda kv: -(kv[1]["score"] or 0))
    for model, s in models:
        table.add_row(
            model,
            *(
                f"{s[k]:.4f}" if s[k] is not None else "-"
                for k in ("score", "score_turn1", "score_turn2")
            ),
        )
    console.print(table)
    console.print(f"rows added to {root / 'summary.csv'}")


def cmd_import_alpaca_eval(args: argparse.Namespace) -> int:
    from harness.imports import import_into
    from plugins.benchmarks.alpaca_eval.importer import import_published, to_json

    out = Path(args.results_dir) / args.experiment / "imported" / "alpaca_eval"
    gamed = args.df_gamed or _env_file("alpaca_eval", "df_gamed.csv")
    result = import_published(args.results_dir_in, args.annotator, out, df_gamed=gamed)
    if not result["models"]:
        raise AlignlabError(
            f"{args.results_dir_in}: no model folder with {args.annotator}/annotations.json "
            f"(found: {', '.join(result['skipped']) or 'nothing'}); check --annotator"
        )
    root = import_into(
        args.results_dir,
        args.experiment,
        "alpaca_eval",
        result,
        {"results_dir": str(args.results_dir_in), "annotator": args.annotator},
    )
    if args.json:
        print(to_json({"models": result["models"]}))
        return 0
    from rich.table import Table

    table = Table(title=f"AlpacaEval ({args.annotator})")
    for col in ("model", "win rate", "std. err.", "n_total", "annotated"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in sorted(result["models"].items(), key=lambda kv: -kv[1]["win_rate"]):
        table.add_row(
            model,
            f"{m['win_rate']:.4f}",
            f"{m['standard_error']:.4f}",
            str(m["n_total"]),
            str(m["coverage"]),
        )
    console.print(table)
    console.print(f"rows added to {root / 'summary.csv'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness import compare
    from harness.report.terminal import print_comparison

    result = compare.compare_folder(
        args.results_dir,
        args.reference or compare.DEFAULT_REFERENCES,
        compare.parse_against(args.against or []),
        allow_mismatch=args.allow_mismatch,
    )
    compare.require_rows(result)
    if args.json:
        print(compare.to_json(result))
    else:
        print_comparison(console, result)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from harness.reproduce import command

    return command(args.table, args.data_dir, args.mt_bench_dir, args.json, console, err_console)


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report.write import write_report

    md, html = write_report(args.results_dir)
    console.print(f"wrote {md} and {html} (figures in {md.parent / 'report'})", soft_wrap=True)
    return 0


def _env_file(*parts: str) -> Path | None:
    import os

    base = os.environ.get("ALIGNLAB_DATA_DIR")
    path = Path(base, *parts) if base else None
    return path if path is not None and path.is_file() else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alignlab",
        description="Train alignment recipes with TRL, score them on MT-Bench and AlpacaEval, "
        "and report which recipe is better, and by how much.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="train every arm, evaluate, print the ablation table")
    p.add_argument("config", help="experiment YAML (e.g. configs/tiny.yaml)")
    p.add_argument("--results-dir", help="override the config's results_dir")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="local benchmark data instead of downloads: a folder with fastchat/ (FastChat's "
        "data/ layout) and alpaca_eval/ (alpaca_eval's results/ layout); sets ALIGNLAB_DATA_DIR",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a config and report every problem at once")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("list", help="list every registered plugin with its one-line doc")
    p.add_argument("kind", nargs="?", help="recipe, stage, dataset, benchmark, judge or generator")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("import", help="import published benchmark runs into an experiment")
    imp = p.add_subparsers(dest="source", required=True, metavar="SOURCE")
    q = imp.add_parser("mt-bench", help="a FastChat data/ folder (answers and judgments)")
    q.add_argument("--data-dir", required=True, type=Path, help="folder in FastChat's data/ layout")
    q.add_argument("--experiment", required=True, help="experiment to add the models to")
    q.add_argument("--results-dir", default="results", help="results root (default: results)")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=cmd_import_mt_bench)
    q = imp.add_parser("alpaca-eval", help="alpaca_eval results/<model>/ folders with annotations")
    q.add_argument(
        "--results-dir",
        dest="results_dir_in",
        required=True,
        type=Path,
        help="alpaca_eval's results/ folder, or one results/<model>/ folder",
    )
    q.add_argument("--annotator", required=True, help="e.g. alpaca_eval_gpt4 (AlpacaEval 1)")
    q.add_argument("--experiment", required=True, help="experiment to add the models to")
    q.add_argument(
        "--into",
        dest="results_dir",
        default="results",
        help="alignlab results root to write into (default: results)",
    )
    q.add_argument("--df-gamed", type=Path, help="alpaca_eval's df_gamed.csv (for the LC win rate)")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=cmd_import_alpaca_eval)

    p = sub.add_parser(
        "compare",
        help="a run's models beside reference rows (refuses different judges or versions)",
    )
    p.add_argument("results_dir", type=Path, help="a run's folder, e.g. results/tiny")
    p.add_argument(
        "--reference",
        action="extend",
        nargs="+",
        metavar="MODEL",
        help="reference models (default: llama-2-70b-chat gpt-3.5-turbo zephyr-7b-beta)",
    )
    p.add_argument(
        "--against",
        action="extend",
        nargs="+",
        metavar="RUN=REF",
        help="compare run benchmark RUN with reference benchmark REF "
        "(e.g. toy_mt_bench=mt_bench; refused unless --allow-mismatch, as they differ)",
    )
    p.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="show pairs with different benchmarks, versions or judges, flagged, instead of refusing",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "reproduce",
        help="recompute a paper table's rows from public per-item data, beside the paper's",
    )
    p.add_argument("table", help="the table to reproduce: zephyr-table1")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="folder with alpaca_eval/results/<model>/alpaca_eval_gpt4/annotations.json "
        "and/or fastchat/ (FastChat's data/ layout); default: $ALIGNLAB_DATA_DIR",
    )
    p.add_argument(
        "--mt-bench-dir",
        type=Path,
        help="a FastChat data/ folder whose mt_bench/model_judgment/gpt-4_single.jsonl judges "
        "the table's models (e.g. LMSYS's published judgments); default: DATA_DIR/fastchat",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser(
        "report",
        help="write report.md and a self-contained report.html (tables, plots, provenance)",
    )
    p.add_argument(
        "results_dir", type=Path, help="a results folder with summary.csv, e.g. results/tiny"
    )
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], Any] = args.func
    try:
        return int(func(args) or 0)
    except DryRunStop as exc:
        console.print(f"[yellow]{exc}[/]", highlight=False, soft_wrap=True)
        return exc.exit_code
    except AlignlabError as exc:
        err_console.print(
            f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True
        )
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished stages are kept; run again to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
