"""Where the grammar, templates and standard library live, in a checkout and in a wheel.

The repository keeps them at the top level (``grammars/``, ``templates/``, ``specs/std.res``);
the wheel carries copies inside the package under ``resdsl/_data/`` (see pyproject.toml).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    installed = _PACKAGE / "_data"
    if (installed / "grammars").is_dir():
        return installed
    return _PACKAGE.parent


def grammar_path() -> Path:
    return data_root() / "grammars" / "resdsl.lark"


def templates_dir() -> Path:
    return data_root() / "templates"


def stdlib_dir() -> Path:
    """Folder searched by ``import NAME``: ``import std`` reads ``std.res`` from here."""
    return data_root() / "specs"
