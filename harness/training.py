"""Run one training stage: in this process, or under ``accelerate launch`` for several.

Both paths execute the same code (``run_stage``); the multi-process path serialises the stage
inputs to JSON and re-enters through ``python -m harness.training SPEC``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import registry
from harness.api import StageInputs
from harness.errors import AlignlabError


def make_inputs(spec: dict[str, Any], **extra: Any) -> StageInputs:
    cls = registry.load("stage", spec["stage"])
    return StageInputs(
        params=cls.Params.model_validate(spec["params"]),
        model=spec.get("model"),
        reference_model=spec.get("reference_model"),
        data_dir=Path(spec["data_dir"]),
        output_dir=Path(spec["output_dir"]),
        seed=int(spec["seed"]),
        chat_template=spec.get("chat_template"),
        num_processes=int(spec.get("num_processes", 1)),
        **extra,
    )


def run_stage(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    cls = registry.load("stage", spec["stage"])
    inputs = make_inputs(spec, **extra)
    inputs.output_dir.mkdir(parents=True, exist_ok=True)
    return dict(cls().run(inputs) or {})


def launch(
    spec: dict[str, Any], work: Path, accelerate_config: str | None, cpu: bool
) -> dict[str, Any]:
    """Run the stage with ``accelerate launch`` in ``spec['num_processes']`` processes."""
    spec_file = work / "stage_spec.json"
    result_file = work / "stage_result.json"
    spec_file.write_text(json.dumps({**spec, "result_file": str(result_file)}, indent=2))
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(spec["num_processes"]),
        "--num_machines",
        "1",
        "--main_process_port",
        str(_free_port()),
    ]
    if accelerate_config:
        cmd += ["--config_file", accelerate_config]
    else:
        # The multi-GPU launcher is torchrun; without CUDA its processes train on the CPU (gloo).
        cmd += ["--multi_gpu"]
    cmd += ["-m", "harness.training", str(spec_file)]
    env = dict(os.environ)
    if cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (work / "launch.log").write_text(proc.stdout + "\n" + proc.stderr)
    if proc.returncode != 0 or not result_file.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise AlignlabError(
            f"`accelerate launch` of stage {spec['stage']!r} failed (exit {proc.returncode}); "
            f"last lines:\n{tail}"
        )
    return dict(json.loads(result_file.read_text()))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    result = run_stage(spec)
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process:
        result["num_processes"] = state.num_processes
        Path(spec["result_file"]).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
