"""The `dpo` stage: direct preference optimisation with TRL's DPOTrainer."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from harness.api import DataSchema, StageInputs
from plugins.stages.common import (
    TrainParams,
    finish,
    load_model,
    load_tokenizer,
    progress_callback,
    run_trainer,
    training_args,
)


class DPOParams(TrainParams):
    """DPO settings; defaults follow the paper's dDPO (beta 0.1, lr 5e-7, linear schedule)."""

    learning_rate: float = Field(5e-7, gt=0, description="Peak learning rate.")
    lr_scheduler_type: str = Field("linear", description="cosine, linear, constant, ...")
    beta: float = Field(0.1, gt=0, description="KL strength of the implicit reward.")
    loss_type: str = Field("sigmoid", description="TRL loss: sigmoid (DPO), ipo, hinge, ...")


def split_preference(ex: dict[str, Any]) -> dict[str, Any]:
    """ultrafeedback_binarized rows (full dialogues) to TRL's explicit-prompt form."""
    return {
        "prompt": ex["chosen"][:-1],
        "chosen": ex["chosen"][-1:],
        "rejected": ex["rejected"][-1:],
    }


class DPOStage:
    """Direct preference optimisation (TRL DPOTrainer); the parent model is the reference."""

    Params = DPOParams
    accepts: ClassVar[tuple[DataSchema, ...]] = ("preference",)
    needs_parent: ClassVar[bool] = True

    def run(self, inputs: StageInputs) -> dict[str, Any]:
        import datasets
        from trl import DPOConfig, DPOTrainer

        p = inputs.params
        assert isinstance(p, DPOParams)
        if inputs.model is None:
            raise ValueError("the dpo stage needs a parent model")
        tokenizer = load_tokenizer(inputs.model, inputs.chat_template)
        ds = datasets.load_from_disk(str(inputs.data_dir))
        train_set = ds.map(split_preference, remove_columns=ds.column_names)
        args = DPOConfig(
            **training_args(p, inputs, inputs.output_dir.parent / "trainer"),
            beta=p.beta,
            loss_type=[p.loss_type],
        )
        trainer = DPOTrainer(
            model=load_model(inputs.model),
            ref_model=load_model(inputs.reference_model or inputs.model),
            args=args,
            train_dataset=train_set,
            processing_class=tokenizer,
            callbacks=[progress_callback(inputs)],
        )
        run_trainer(trainer)
        return finish(trainer, tokenizer, inputs)
