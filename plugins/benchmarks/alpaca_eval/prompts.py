"""alpaca_eval's judge prompts and parsing, for judging through an alignlab judge plugin.

The requests are rendered by the annotator's own ``SinglePairwiseAnnotator`` (its
output-order randomisation, seeded on the instruction, and its prompt template) and the
replies are parsed and un-switched by the same object, so a judge plugin that sends these
messages with these call settings reproduces ``annotate``'s annotations request for request.
Only single annotators with ``batch_size: 1`` that read the reply text (not logprobs) can be
judged this way; the others need ``annotate``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from harness.api import JudgeRequest, Message
from harness.errors import AlignlabError
from plugins.benchmarks.alpaca_eval.compat import alpaca_eval_module

SWITCH_COLUMN = "is_switched_outputs"
HELPER_DEFAULTS = {"temperature": 0.7, "top_p": 1.0, "max_tokens": 2048}
"""``openai_completions``' defaults for settings an annotator config leaves out."""
CALL_KEYS = ("temperature", "top_p", "max_tokens")


@functools.cache
def single_annotator(annotator: str) -> Any:
    """The annotator's ``SinglePairwiseAnnotator``, checked to be usable on the judge path."""
    annotators = alpaca_eval_module("alpaca_eval.annotators")
    pool = annotators.PairwiseAnnotator(
        annotators_config=annotator, caching_path=None, is_avoid_reannotations=False
    )
    if len(pool.annotators) != 1:
        raise _unsupported(annotator, f"it is a pool of {len(pool.annotators)} annotators")
    single = next(iter(pool.annotators.values()))
    if single.batch_size != 1:
        raise _unsupported(annotator, f"it batches {single.batch_size} examples per prompt")
    if single.completion_key != "completions" or single.completions_kwargs.get("logprobs"):
        raise _unsupported(annotator, "it parses token logprobs, not the reply text")
    return single


def _unsupported(annotator: str, why: str) -> AlignlabError:
    return AlignlabError(
        f"annotator {annotator!r} cannot be judged through a judge plugin ({why}); "
        "use the AlpacaEval benchmark's annotate path (alpaca_eval's own annotator) instead"
    )


def call_params(annotator: str) -> dict[str, Any]:
    """Temperature, top_p and max_tokens as alpaca_eval sends them for this annotator."""
    kwargs = single_annotator(annotator).completions_kwargs
    return {k: kwargs.get(k, HELPER_DEFAULTS[k]) for k in CALL_KEYS}


def to_messages(prompt: str) -> list[Message]:
    """A rendered prompt as chat messages, as ``openai_completions`` sends it to chat models."""
    prompt = prompt.strip()
    if prompt.startswith("<|im_start|>"):
        utils = alpaca_eval_module("alpaca_eval.utils")
        return [
            {"role": m["role"], "content": m["content"]} for m in utils.prompt_to_chatml(prompt)
        ]
    return [{"role": "user", "content": prompt}]


def render(annotator: str, rows: Sequence[dict[str, str]]) -> list[JudgeRequest]:
    """One judge request per row (``id``, ``instruction``, ``output_1``, ``output_2``)."""
    import pandas as pd

    if not rows:
        return []
    single = single_annotator(annotator)
    frame = single._preprocess(pd.DataFrame(list(rows)))  # order switch + shuffle
    prompts, frame = single._make_prompts(frame)
    params = call_params(annotator)
    return [
        JudgeRequest(
            id=str(row["id"]),
            messages=to_messages(prompt),
            payload={"annotator": annotator, "switched": bool(row.get(SWITCH_COLUMN, False))},
            params=dict(params),
        )
        for prompt, (_, row) in zip(prompts, frame.iterrows(), strict=True)
    ]


def parse(annotator: str, text: str, switched: bool) -> float | None:
    """The preference (1 = output_1 wins, 2 = output_2 wins) in a judge reply, or None."""
    import pandas as pd

    single = single_annotator(annotator)
    try:
        values = list(single.fn_completion_parser(text))
    except Exception:  # alpaca_eval's parsers raise on replies they cannot read
        return None
    if len(values) != 1 or values[0] is None or _is_nan(values[0]):
        return None
    frame = pd.DataFrame(
        {
            "output_1": ["a"],
            "output_2": ["b"],
            "preference": [float(values[0])],
            SWITCH_COLUMN: [switched],
        }
    )
    try:
        unswitched = single._postprocess(frame)  # undoes the order switch, validates the value
    except AssertionError:
        return None
    return float(unswitched["preference"].iloc[0]) if len(unswitched) else None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
