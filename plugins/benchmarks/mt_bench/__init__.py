"""MT-Bench with FastChat's exact semantics (lm-sys/FastChat ``fastchat/llm_judge`` at 0e6d3e4b).

- ``data``: FastChat ``data/`` folders (pinned upstream files, sha256, loaders)
- ``prompts``: which judge prompt, and the exact judge messages
- ``parse``: ratings and pairwise verdicts from judge texts
- ``matches``: what to judge for one model's answers
- ``scores``: show_result's numbers, with bootstrap CIs; duplicate detection
- ``records``: FastChat's answer and judgment files
- ``benchmark``: the ``mt_bench`` plugin (``MTBench``)
- ``importer``: checking and scoring a published FastChat run
"""

from .benchmark import MTBench, MTBenchParams
from .importer import import_published

__all__ = ["MTBench", "MTBenchParams", "import_published"]
