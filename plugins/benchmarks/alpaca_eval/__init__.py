"""AlpacaEval through the alpaca_eval package (tatsu-lab/alpaca_eval, pinned 0.6.6).

- ``data``: the eval set and reference outputs (pinned GitHub files, sha256, cache, local folder)
- ``config``: alpaca_eval's annotator configs, read without importing the package
- ``metrics``: win rate, standard error, counts, length-controlled win rate (alpaca_eval's own)
- ``prompts``: alpaca_eval's judge prompts and parsing, for judging through a judge plugin
- ``annotate``: alpaca_eval's own ``PairwiseAnnotator`` against an OpenAI-compatible endpoint
- ``importer``: published ``results/<model>/`` folders as rows; the shipped leaderboards
- ``benchmark``: the ``alpaca_eval`` plugin (``AlpacaEval``)

Nothing here imports alpaca_eval, openai or pandas at import time.
"""

from .benchmark import AlpacaEval, AlpacaEvalParams
from .importer import import_published

__all__ = ["AlpacaEval", "AlpacaEvalParams", "import_published"]
