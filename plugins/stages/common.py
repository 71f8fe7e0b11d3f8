"""What the TRL-backed stages share: typed optimisation params, model loading, progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harness.api import Params, StageInputs


class TrainParams(Params):
    """Optimisation settings shared by the sft and dpo stages (TRL/transformers names)."""

    learning_rate: float = Field(2e-5, gt=0, description="Peak learning rate.")
    num_train_epochs: float = Field(1.0, gt=0, description="Epochs (ignored when max_steps > 0).")
    max_steps: int = Field(-1, description="Optimizer steps; -1 means use num_train_epochs.")
    per_device_train_batch_size: int = Field(8, ge=1, description="Batch size per process.")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Micro-batches per step.")
    lr_scheduler_type: str = Field("cosine", description="cosine, linear, constant, ...")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of steps used for warmup.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (the paper: none).")
    optim: str = Field("adamw_torch", description="Optimizer name as in transformers.")
    max_length: int | None = Field(
        1024, ge=8, description="Truncate sequences to this many tokens."
    )
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto = bf16 on a GPU that supports it, else fp32."
    )
    logging_steps: int = Field(10, ge=1, description="Log every N steps.")
    seed: int | None = Field(None, description="Overrides the experiment seed for this stage.")


def precision_flags(precision: str) -> dict[str, bool]:
    import torch

    if precision == "auto":
        precision = (
            "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
        )
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def training_args(p: TrainParams, inputs: StageInputs, run_dir: Path) -> dict[str, Any]:
    """Keyword arguments for a TRL config (SFTConfig / DPOConfig)."""
    import torch

    return {
        "output_dir": str(run_dir),
        "learning_rate": p.learning_rate,
        "num_train_epochs": p.num_train_epochs,
        "max_steps": p.max_steps,
        "per_device_train_batch_size": p.per_device_train_batch_size,
        "gradient_accumulation_steps": p.gradient_accumulation_steps,
        "lr_scheduler_type": p.lr_scheduler_type,
        "warmup_steps": p.warmup_ratio,  # a float in [0, 1) is a ratio of total steps
        "weight_decay": p.weight_decay,
        "optim": p.optim,
        "max_length": p.max_length,
        "activation_checkpointing": p.gradient_checkpointing,
        "logging_steps": p.logging_steps,
        "seed": p.seed if p.seed is not None else inputs.seed,
        "data_seed": p.seed if p.seed is not None else inputs.seed,
        "save_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
        **precision_flags(p.precision),
    }


def load_tokenizer(model: str, chat_template: str | None) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    if chat_template:
        tok.chat_template = chat_template
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model: str) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model, dtype="auto")


def progress_callback(inputs: StageInputs) -> Any:
    """A transformers callback forwarding step counts to the core's progress bar."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if inputs.total_steps and state.is_world_process_zero:
                inputs.total_steps(int(state.max_steps))

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if inputs.progress and state.is_world_process_zero:
                inputs.progress(1)

    return _Progress()


def run_trainer(trainer: Any) -> None:
    """Train without printing log dicts to the terminal (they go to the manifest)."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.train()


def finish(trainer: Any, tokenizer: Any, inputs: StageInputs) -> dict[str, Any]:
    """Save model and tokenizer into the stage's output folder; return the training log."""
    trainer.save_model(str(inputs.output_dir))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(str(inputs.output_dir))
    trainer.accelerator.wait_for_everyone()
    history = [h for h in trainer.state.log_history if "loss" in h or "train_loss" in h]
    final = trainer.state.log_history[-1] if trainer.state.log_history else {}
    return {"steps": trainer.state.global_step, "final": final, "log": history}
