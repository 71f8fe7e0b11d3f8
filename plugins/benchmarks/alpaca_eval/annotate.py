"""Annotating with alpaca_eval's own annotator code against any OpenAI-compatible endpoint.

``annotate`` runs ``alpaca_eval.annotators.PairwiseAnnotator`` (prompt, order randomisation,
parsing, caching: all alpaca_eval's) with these changes of plumbing, none of semantics:

- its OpenAI client comes from a client-config file written into ``cache_dir`` that names
  ``EndpointClient`` (base URL from the endpoint, key read from the environment variable at
  call time, so no key is written to disk or logged);
- its annotation cache is ``cache_dir/annotations_<annotator>_<model>_seed<seed>.json``, not
  the default next to the evaluator config inside site-packages (tatsu-lab/alpaca_eval#305);
  only successful annotations are cached, so a re-run retries the failed ones;
- a judge call that still fails after the client's retries fails only its own item (counted
  as missing); 401/403/404 stop the run with a ``JudgeError``, keeping what is cached;
- every returned record carries an ``error``: None when annotated, else why not (the failed
  call's error, or the judge's reply that the annotator's parser could not read); alpaca_eval's
  own root-logger warnings and tracebacks go to the ``alpaca_eval`` logger at DEBUG instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import yaml

from harness.errors import AlignlabError, JudgeError
from plugins.benchmarks.alpaca_eval.compat import alpaca_eval_module
from plugins.benchmarks.alpaca_eval.config import load_annotator_config

log = logging.getLogger(__name__)
alpaca_eval_log = logging.getLogger("alpaca_eval")

FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
FATAL_HINTS = {
    401: "check the API key in the environment variable {key_env}",
    403: "the key in {key_env} may lack access to model {model!r}",
    404: "check the model name {model!r} and the endpoint URL {base_url}",
}
TQDM_USERS = ("alpaca_eval.utils", "alpaca_eval.decoders.openai")
"""alpaca_eval modules that draw progress bars with ``tqdm.tqdm``."""
CLIENT_CONFIG = "alpaca_eval_client_{digest}.yaml"
"""One file per endpoint setting, so runs with different endpoints never share one."""
Record = dict[str, Any]
RAW_COMPLETION = "preference_raw_completion"
"""The judge's raw reply in alpaca_eval's annotation records."""


@dataclass(frozen=True)
class JudgeEndpoint:
    """Where alpaca_eval's annotator sends its requests.

    ``model`` None keeps the annotator config's model (``gpt-4`` for ``alpaca_eval_gpt4``);
    ``api_key_env`` names the variable holding the key (None: a server without auth).
    """

    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | JudgeEndpoint) -> JudgeEndpoint:
        if isinstance(spec, JudgeEndpoint):
            return spec
        unknown = sorted(set(spec) - {"base_url", "model", "api_key_env"})
        if unknown:
            raise AlignlabError(
                f"judge endpoint: unknown key(s) {unknown}; use base_url, model, api_key_env"
            )
        return cls(**spec)

    def check_key(self) -> None:
        if self.api_key_env and not os.environ.get(self.api_key_env):
            raise JudgeError(
                f"the judge's API key variable ${self.api_key_env} is not set; export it (for "
                "a local server without auth, set api_key_env to null)"
            )


class EndpointClient(openai.OpenAI):
    """``openai.OpenAI`` whose key is read from the environment variable ``api_key_env``."""

    def __init__(self, *, api_key_env: str | None = None, **kwargs: Any):
        key = os.environ.get(api_key_env) if api_key_env else None
        super().__init__(api_key=key or "EMPTY", **kwargs)


def annotate(
    outputs: Sequence[Mapping[str, Any]],
    references: Sequence[Mapping[str, Any]],
    annotator: str,
    judge_endpoint: Mapping[str, Any] | JudgeEndpoint,
    cache_dir: str | os.PathLike[str],
    *,
    chunksize: int = 32,
    max_retries: int = 6,
    seed: int = 0,
) -> list[Record]:
    """Pairwise annotations of ``outputs`` against ``references`` by alpaca_eval's annotator.

    ``outputs`` and ``references`` are alpaca_eval output records (``instruction``,
    ``output``, ``generator``, optionally ``dataset``), matched on ``instruction``. Returns one
    record per instruction with ``preference`` (1 = reference wins, 2 = model wins, 1.5 draw)
    or None when the annotation failed, and ``error`` (None, or why it failed). Annotations
    are cached (and saved every ``chunksize`` items) in ``cache_dir``, so a re-run sends only
    what is missing.
    """
    endpoint = JudgeEndpoint.parse(judge_endpoint)
    endpoint.check_key()
    check_openai_annotator(annotator)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    client_config = write_client_config(cache, endpoint, max_retries)
    with _quiet_alpaca_eval():
        caching_path = cache_file(cache, annotator, endpoint, seed)
        pairwise = _pairwise_annotator(annotator, caching_path, seed)
        calls = _configure(pairwise, endpoint)
        try:
            annotated = pairwise.annotate_head2head(
                outputs_1=list(references),
                outputs_2=list(outputs),
                chunksize=chunksize,
                client_config_path=str(client_config),
            )
        except FATAL_ERRORS as e:
            raise _fatal(e, endpoint, pairwise) from None
    if calls.errors:
        first = next(iter(calls.errors.values()))
        log.warning("%d judge call(s) failed after retries; first: %s", len(calls.errors), first)
    return [calls.explain(_clean(r)) for r in annotated]


def cache_file(cache_dir: Path, annotator: str, endpoint: JudgeEndpoint, seed: int) -> Path:
    """The annotation cache of one (annotator, judge model, seed) inside ``cache_dir``."""
    model = endpoint.model or str(_config_model(annotator))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model)
    return cache_dir / f"annotations_{annotator}_{slug}_seed{seed}.json"


def write_client_config(cache_dir: Path, endpoint: JudgeEndpoint, max_retries: int) -> Path:
    """alpaca_eval's client-config file (see its ``client_configs/README.md``), without a key."""
    client: dict[str, Any] = {
        "client_class": f"{EndpointClient.__module__}.{EndpointClient.__qualname__}",
        "api_key_env": endpoint.api_key_env,
        "max_retries": max_retries,
    }
    if endpoint.base_url:
        client["base_url"] = endpoint.base_url
    text = yaml.safe_dump({"default": [client]}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = cache_dir / CLIENT_CONFIG.format(digest=digest)
    path.write_text(text, encoding="utf-8")
    return path


def check_openai_annotator(annotator: str) -> None:
    """Refuse annotator configs that do not call an OpenAI-compatible endpoint."""
    config = load_annotator_config(annotator)
    for name, single in config.items():
        fn = single.get("fn_completions", "openai_completions")
        if fn != "openai_completions":
            raise AlignlabError(
                f"annotator {annotator!r} ({name}) decodes with {fn}; alignlab sends alpaca_eval "
                "annotators to OpenAI-compatible endpoints only (fn_completions: "
                "openai_completions); serve the judge model behind such an endpoint instead"
            )


def _config_model(annotator: str) -> str | None:
    config = load_annotator_config(annotator)
    first = next(iter(config.values()))
    return first.get("completions_kwargs", {}).get("model_name")


class PairwiseAnnotator(alpaca_eval_module("alpaca_eval.annotators").PairwiseAnnotator):  # type: ignore[misc]
    """alpaca_eval's ``PairwiseAnnotator``, its cache kept as floats (for pandas 3).

    alpaca_eval 0.6.6 reads its JSON cache back with ``pd.read_json``, which turns preferences
    like ``2.0`` into an int64 column; pandas 3 then refuses alpaca_eval's own
    ``loc[same_outputs, "preference"] = 1.5`` on a fully cached chunk (a ``TypeError``).
    It also expects a cache frame to exist when failed annotations are not stored.
    """

    def load_(self, path: Any = None) -> None:
        super().load_(path)
        frame = self.df_annotations
        if frame is not None and self.annotation_key in frame.columns:
            frame[self.annotation_key] = frame[self.annotation_key].astype(float)

    def ensure_cache_frame(self) -> None:
        import pandas as pd

        current: Any = getattr(self, "df_annotations", None)
        if current is None:
            self.df_annotations = pd.DataFrame(columns=[*self.all_keys, self.annotation_key])


def _pairwise_annotator(annotator: str, caching_path: Path, seed: int) -> PairwiseAnnotator:
    pairwise = PairwiseAnnotator(
        annotators_config=annotator,
        caching_path=caching_path,
        is_store_missing_annotations=False,
        seed=seed,
    )
    pairwise.ensure_cache_frame()
    return pairwise


@dataclass
class CallLog:
    """What this run sent the judge, by instruction: the raw reply, or why the call failed."""

    instructions: dict[str, list[str]] = field(default_factory=dict)  # by prompt
    replies: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def note_prompts(self, prompts: Sequence[str], frame: Any, batch_size: int) -> None:
        """Remember which instructions each prompt asks about (``batch_size`` rows a prompt)."""
        rows = [str(x) for x in frame["instruction"]]
        for i, prompt in enumerate(prompts):
            self.instructions[prompt] = rows[i * batch_size : (i + 1) * batch_size]

    def note(self, prompt: str, *, reply: Any = None, error: str | None = None) -> None:
        for instruction in self.instructions.get(prompt, []):
            if error is not None:
                self.errors[instruction] = error
            else:
                self.replies[instruction] = reply

    def explain(self, record: Record) -> Record:
        """``record`` with ``error``: None when it has a preference, else the reason."""
        out = {**record, "error": None}
        instruction = str(record.get("instruction"))
        if record.get("preference") is not None:
            return out
        if instruction in self.errors:
            out["error"] = f"judge call failed after retries: {self.errors[instruction]}"
        elif instruction in self.replies:
            reply = self.replies[instruction]
            out["error"] = f"the annotator's parser could not read the judge's reply {reply!r:.300}"
            out[RAW_COMPLETION] = out.get(RAW_COMPLETION) or reply
        else:
            out["error"] = "no annotation (alpaca_eval returned none for this instruction)"
        return out


def _configure(pairwise: Any, endpoint: JudgeEndpoint) -> CallLog:
    """Point every single annotator at the endpoint's model; log and isolate its calls."""
    calls = CallLog()
    for single in pairwise.annotators.values():
        if endpoint.model:
            single.completions_kwargs["model_name"] = endpoint.model
        single._make_prompts = _noting_prompts(single, calls)
        single.fn_completions = _isolating(single.fn_completions, calls)
    return calls


def _noting_prompts(single: Any, calls: CallLog) -> Callable[..., Any]:
    make_prompts = single._make_prompts

    def noting(frame: Any, *args: Any, **kwargs: Any) -> Any:
        prompts, frame = make_prompts(frame, *args, **kwargs)
        calls.note_prompts(prompts, frame, single.batch_size)
        return prompts, frame

    return noting


def _isolating(fn: Callable[..., Any], calls: CallLog) -> Callable[..., Any]:
    """Wrap alpaca_eval's ``openai_completions`` so that one failing call fails one item."""

    def completions(prompts: Sequence[str], **kwargs: Any) -> Any:
        try:
            out = fn(prompts=prompts, **kwargs)
        except FATAL_ERRORS:
            raise
        except openai.OpenAIError as e:
            if len(prompts) == 1:
                calls.note(prompts[0], error=f"{type(e).__name__}: {e}")
                return _failed_completion()
            parts = [completions([p], **kwargs) for p in prompts]  # retry one by one
            return {k: [v for part in parts for v in part[k]] for k in parts[0]}
        for prompt, reply in zip(prompts, out["completions"], strict=False):
            calls.note(prompt, reply=reply)
        return out

    return completions


def _failed_completion() -> dict[str, list[Any]]:
    """What ``openai_completions`` returns for one prompt with no reply (parsed as missing)."""
    return {
        "completions": [""],
        "price_per_example": [0.0],
        "time_per_example": [0.0],
        "completions_all": [{"text": "", "total_tokens": 0}],
    }


def _fatal(e: openai.APIStatusError, endpoint: JudgeEndpoint, pairwise: Any) -> JudgeError:
    status = e.status_code
    hint = FATAL_HINTS.get(status, "").format(
        key_env=f"${endpoint.api_key_env}", model=endpoint.model, base_url=endpoint.base_url
    )
    path = Path(pairwise.caching_path)
    frame: Any = pairwise.df_annotations
    kept = len(frame) if frame is not None else 0
    return JudgeError(
        f"the judge at {endpoint.base_url or 'api.openai.com'} answered {status} "
        f"({type(e).__name__}); {hint}. {kept} annotation(s) are kept in {path}; "
        "re-running sends only the missing ones."
    )


@contextlib.contextmanager
def _quiet_alpaca_eval() -> Iterator[None]:
    """Silence alpaca_eval's console output while it annotates; alignlab reports for it.

    alpaca_eval logs through the root logger (``logging.warning``, and ``logging.exception``
    with a traceback for every failed call): those records go to the ``alpaca_eval`` logger at
    DEBUG instead (a filter on the root logger sees only records logged on it, so alignlab's
    own are untouched). Its tqdm bars (annotation chunks, prompt batches) are turned off.
    """
    package = str(Path(str(alpaca_eval_module().__file__)).parent)

    def demote(record: logging.LogRecord) -> bool:
        if not record.pathname.startswith(package):
            return True
        alpaca_eval_log.debug("%s", record.getMessage())
        return False

    root = logging.getLogger()
    root.addFilter(demote)
    modules = [alpaca_eval_module(m) for m in TQDM_USERS]
    originals = [m.tqdm for m in modules]
    for module in modules:
        module.tqdm = _QuietTqdm  # type: ignore[attr-defined]
    try:
        yield
    finally:
        root.removeFilter(demote)
        for module, original in zip(modules, originals, strict=True):
            module.tqdm = original  # type: ignore[attr-defined]


class _QuietTqdm:
    """Stands in for the ``tqdm`` module in alpaca_eval: ``tqdm.tqdm(...)`` without a bar."""

    @staticmethod
    def tqdm(*args: Any, **kwargs: Any) -> Any:
        import tqdm

        return tqdm.tqdm(*args, **{**kwargs, "disable": True})


def _clean(record: Mapping[str, Any]) -> Record:
    """NaN values (a missing preference, its missing raw completion) become None."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in record.items()}
