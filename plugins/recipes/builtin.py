"""The Zephyr paper's ablation arms (Tunstall et al. 2023, Table 3) as recipes.

A recipe is the ordered list of training roles it applies to the base model; what each role
is (stage plugin, dataset, hyperparameters) lives in the experiment config's ``training:``.
Stages shared between recipes (the SFT model of ``sft`` and ``sft-dpo``) are trained once.
"""

from __future__ import annotations

from typing import ClassVar


class Base:
    """The base model itself, no training (the paper's starting point)."""

    roles: ClassVar[tuple[str, ...]] = ()


class Sft:
    """dSFT: supervised fine-tuning on teacher dialogues (role `sft`)."""

    roles: ClassVar[tuple[str, ...]] = ("sft",)


class SftDpo:
    """dSFT then dDPO: DPO from the SFT model, with the SFT model as reference (Zephyr)."""

    roles: ClassVar[tuple[str, ...]] = ("sft", "dpo")


class Dpo:
    """dDPO without SFT: DPO directly on the base model, the base as reference."""

    roles: ClassVar[tuple[str, ...]] = ("dpo",)


class SftSft:
    """dSFT-2: dSFT, then one more SFT epoch on the preference set's chosen answers (role `sft2`)."""

    roles: ClassVar[tuple[str, ...]] = ("sft", "sft2")
