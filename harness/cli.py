"""The `alignlab` command line: run, validate, list (and the import/report commands).

Heavy libraries are imported inside the commands that need them, so `alignlab --help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from harness.errors import AlignlabError

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
    from harness.report.terminal import print_ablation
    from harness.validate import validate_file

    exp = validate_file(args.config)
    if args.results_dir:
        exp.results_dir = args.results_dir
    result = runner.run(exp, console=console, config_path=args.config)
    ran, reused = len(result.ran), len(result.log) - len(result.ran)
    console.print(f"stages: {ran} ran, {reused} reused; {result.seconds:.1f}s in all")
    print_ablation(console, result.store.root)
    console.print(f"wrote {result.store.root / 'summary.csv'} and {result.store.root / 'report.md'}")
    return 0


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
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a config and report every problem at once")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("list", help="list every registered plugin with its one-line doc")
    p.add_argument("kind", nargs="?", help="recipe, stage, dataset, benchmark, judge or generator")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], Any] = args.func
    try:
        return int(func(args) or 0)
    except AlignlabError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished stages are kept; run again to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
