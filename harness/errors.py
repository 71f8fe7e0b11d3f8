"""User-facing errors: typed, actionable, printed without a traceback by the CLI."""

from __future__ import annotations

from dataclasses import dataclass


class AlignlabError(Exception):
    """An error the user can fix; the CLI prints its message and exits non-zero."""

    exit_code = 2


@dataclass
class Problem:
    """One problem in a config file: where (file and dotted key) and what."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ConfigError(AlignlabError):
    """One or more problems in a config; all are reported at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        n = len(problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the config:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


class RegistryError(AlignlabError):
    """An unknown, duplicate or broken plugin."""


class StoreError(AlignlabError):
    """The results folder is locked, corrupt or unwritable."""


class JudgeError(AlignlabError):
    """A judge failed in a way retrying cannot fix (bad key, unknown model, ...)."""


class DryRunStop(AlignlabError):
    """A judge in dry-run mode estimated its requests and cost and sent nothing (not an error)."""

    exit_code = 0
