"""The on-disk cache of parsed files gives exactly what parsing gives, and never breaks a run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from resdsl import cache
from resdsl.parser import _parse_cached
from resdsl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "specs" / "resnet50.res").read_text()


def test_cached_tree_equals_a_fresh_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(tmp_path))
    cache.cache_dir.cache_clear()
    try:
        src = SourceFile("specs/resnet50.res", TEXT)
        _parse_cached.cache_clear()
        fresh = _parse_cached(src)  # parses and stores
        assert cache.load(src.path, src.text) == fresh
        assert list((tmp_path / "ast").glob("*.pickle"))
        _parse_cached.cache_clear()
        assert _parse_cached(src) == fresh  # from disk
        other = SourceFile("specs/other.res", TEXT)  # the path is part of the key (spans hold it)
        assert cache.load(other.path, other.text) is None
    finally:
        cache.cache_dir.cache_clear()
        _parse_cached.cache_clear()


def test_a_corrupt_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("RESDSL_CACHE_DIR", str(tmp_path))
    cache.cache_dir.cache_clear()
    try:
        src = SourceFile("x.res", "network n {\n    input 3 x 8 x 8\n    classes 2\n}\n")
        _parse_cached.cache_clear()
        fresh = _parse_cached(src)
        for entry in (tmp_path / "ast").glob("*.pickle"):
            entry.write_bytes(b"not a pickle")
        _parse_cached.cache_clear()
        assert _parse_cached(src) == fresh
    finally:
        cache.cache_dir.cache_clear()
        _parse_cached.cache_clear()


def test_check_with_a_warm_cache_does_not_import_lark(tmp_path):
    env = {"RESDSL_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-X", "importtime", "-m", "resdsl", "check", "specs/resnet50.res"]
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == second.returncode == 0
    assert " lark" in first.stderr  # the cold run parses
    assert " lark" not in second.stderr  # the warm one reads its trees from the cache


def test_an_unwritable_cache_folder_is_no_problem(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # the cache folder would have to be created inside a file
    env = {"RESDSL_CACHE_DIR": str(blocker / "cache"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "resdsl", "check", "specs/resnet18.res"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
