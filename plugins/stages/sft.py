"""The `sft` stage: supervised fine-tuning with TRL's SFTTrainer."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from harness.api import DataSchema, StageInputs
from harness.data import detect_schema
from plugins.stages.common import (
    TrainParams,
    finish,
    load_model,
    load_tokenizer,
    progress_callback,
    run_trainer,
    training_args,
)


class SFTParams(TrainParams):
    """SFT settings; the loss covers every token, as in the alignment-handbook's Zephyr run."""

    packing: bool = Field(False, description="Pack several examples into each max_length row.")


def to_sft_columns(ds: Any) -> Any:
    """Keep the one column SFTTrainer trains on: `text`, `messages`, or the chosen dialogue."""
    schema = detect_schema(ds.column_names)
    if schema == "preference":
        ds = ds.map(lambda ex: {"messages": ex["chosen"]})
        return ds.select_columns(["messages"])
    if schema == "messages":
        return ds.select_columns(["messages"])
    return ds.select_columns(["text"])


class SFTStage:
    """Supervised fine-tuning (TRL SFTTrainer) on text, dialogues, or chosen answers."""

    Params = SFTParams
    accepts: ClassVar[tuple[DataSchema, ...]] = ("messages", "text", "preference")
    needs_parent: ClassVar[bool] = True

    def run(self, inputs: StageInputs) -> dict[str, Any]:
        import datasets
        from trl import SFTConfig, SFTTrainer

        p = inputs.params
        assert isinstance(p, SFTParams)
        if inputs.model is None:
            raise ValueError("the sft stage needs a parent model")
        tokenizer = load_tokenizer(inputs.model, inputs.chat_template)
        train_set = to_sft_columns(datasets.load_from_disk(str(inputs.data_dir)))
        args = SFTConfig(
            **training_args(p, inputs, inputs.output_dir.parent / "trainer"),
            packing=p.packing,
            dataset_text_field="text",
        )
        trainer = SFTTrainer(
            model=load_model(inputs.model),
            args=args,
            train_dataset=train_set,
            processing_class=tokenizer,
            callbacks=[progress_callback(inputs)],
        )
        run_trainer(trainer)
        return finish(trainer, tokenizer, inputs)
