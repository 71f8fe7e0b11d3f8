"""The toy world: a miniature of the Zephyr paper that trains and evaluates offline in minutes.

- ``world``: ``WorldShape`` / ``WorldParams``; invented lands, task instances, the held-out split
- ``spec``, ``tasks``: task instances to prompts and ground truth (``TurnSpec``), one or two turns
- ``students``: the teacher and the students of known failure modes; the AlpacaEval reference
- ``rubric``: the world's fixed 1-10 rating of an answer
- ``corpus``, ``splits``: the pretraining corpus, SFT dialogues, binarized feedback, eval tasks
- ``dataset``: plugin ``toy`` (``alignlab.datasets``)
- ``judge``: plugin ``toy_rubric`` (``alignlab.judges``)
- ``benchmarks``, ``prompts``, ``scoring``: plugins ``toy_mt_bench`` and ``toy_alpaca_eval``
"""
