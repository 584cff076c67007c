"""Rewrite tests/cases/*.expected from what resdsl prints now.

    python tests/regenerate_snapshots.py            # every case
    python tests/regenerate_snapshots.py E302 E101  # cases whose name starts with these

Read every changed file (``git diff tests/cases``) before committing it: a snapshot is only
right if its line, column, caret and words are right.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snapshots import cases


def main(prefixes: list[str]) -> int:
    changed = 0
    for case in cases():
        if prefixes and not any(case.name.startswith(p) for p in prefixes):
            continue
        if case.xfail:
            print(f"skip   {case.name} (xfail: {case.xfail})")
            continue
        text = case.run()
        old = case.expected_path.read_text(encoding="utf-8") if case.expected_path.exists() else None
        if text != old:
            case.expected_path.write_text(text, encoding="utf-8")
            changed += 1
            print(
                f"wrote  {case.expected_path.relative_to(Path.cwd()) if case.expected_path.is_relative_to(Path.cwd()) else case.expected_path}"
            )
    print(f"{changed} snapshot{'s' if changed != 1 else ''} changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
