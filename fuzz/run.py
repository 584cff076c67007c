"""`make fuzz`: run N cases over W worker processes and print the counts.

    python -m fuzz.run --cases 100000 [--workers 2] [--seed 0] [--out fuzz/results/run.json]

Half the cases are mutations of the shipped specs, half are specs generated from the grammar.
A failing case is written to fuzz/crashes/ with the property it broke, and the run exits 1.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(p for p in (ROOT / "specs").rglob("*.res"))
CLI_EVERY = 20  # every 20th case also runs through the real CLI, for its exit code and output


def _case_text(index: int, seed: int) -> tuple[str, Path, str]:
    """Case ``index``: (kind, path, text), a pure function of (index, seed)."""
    rng = random.Random(seed * 1_000_003 + index)
    if index % 2 == 0:
        path = SPECS[rng.randrange(len(SPECS))]
        from fuzz.mutate import mutate

        return "mutation", path, mutate(path.read_text(), rng, rounds=rng.choice([1, 1, 2, 3]))
    return "generated", ROOT / "specs" / "fuzz_generated.res", _generated(rng)


def _generated(rng: random.Random) -> str:
    from hypothesis.errors import HypothesisWarning  # noqa: F401 - hypothesis must be importable

    from fuzz.generate import spec_text

    return _draw(spec_text(), rng)


def _draw(strategy: object, rng: random.Random) -> str:
    """Draw one example from a strategy, deterministically from ``rng``."""
    from hypothesis.internal.conjecture.data import ConjectureData

    data = ConjectureData(
        prefix=b"", random=rng, max_choices=10_000
    )  # a fresh draw, seeded: no shrinking here
    return data.draw(strategy)  # type: ignore[arg-type]


def _worker(args: tuple[int, int, int, int, str]) -> dict[str, object]:
    worker, workers, cases, seed, crash_dir = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # 100,000 throw-away specs must not fill the user's on-disk parse cache.
    os.environ.setdefault("RESDSL_CACHE_DIR", "")
    import torch

    torch.set_num_threads(1)
    import tempfile

    from fuzz.properties import CliCheck, PropertyFailure, Soundness, run_case

    soundness = Soundness()
    mirror = Path(tempfile.mkdtemp(prefix="resdsl-fuzz-"))
    cli = CliCheck(ROOT / "specs", mirror)
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    slowest = 0.0
    for index in range(worker, cases, workers):
        kind, path, text = _case_text(index, seed)
        counts[kind] += 1
        try:
            outcome = run_case(path, text, soundness, cli if index % CLI_EVERY == 0 else None)
        except PropertyFailure as err:
            counts["failures"] += 1
            name = f"case{index}_seed{seed}.res"
            Path(crash_dir).mkdir(parents=True, exist_ok=True)
            (Path(crash_dir) / name).write_text(text)
            failures.append(
                {
                    "case": str(index),
                    "kind": kind,
                    "spec": str(path.relative_to(ROOT)),
                    "file": name,
                    "property": str(err),
                }
            )
            continue
        slowest = max(slowest, outcome.seconds)
        counts["accepted" if outcome.accepted else "rejected"] += 1
        counts[f"{kind}_accepted"] += outcome.accepted
        counts["cli_checked"] += index % CLI_EVERY == 0
        counts["sound_torch"] += outcome.sound_torch
        counts["sound_onnx"] += outcome.sound_onnx
        counts["meta_only"] += outcome.meta_only
        counts["skipped_large"] += outcome.skipped_large
        counts["duplicate_networks"] += outcome.duplicate
        codes.update(outcome.codes)
    return {"counts": dict(counts), "codes": dict(codes), "failures": failures, "slowest_s": slowest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "fuzz" / "results" / "latest.json")
    parser.add_argument("--crashes", type=Path, default=ROOT / "fuzz" / "crashes")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    jobs = [(w, args.workers, args.cases, args.seed, str(args.crashes)) for w in range(args.workers)]
    if args.workers == 1:
        results = [_worker(jobs[0])]
    else:
        with mp.get_context("fork").Pool(args.workers) as pool:
            results = pool.map(_worker, jobs)
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    failures = []
    for r in results:
        counts.update(r["counts"])  # type: ignore[arg-type]
        codes.update(r["codes"])  # type: ignore[arg-type]
        failures += r["failures"]  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    report = {
        "cases": args.cases,
        "seed": args.seed,
        "workers": args.workers,
        "seconds": round(elapsed, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "counts": dict(sorted(counts.items())),
        "diagnostic_codes": dict(sorted(codes.items())),
        "slowest_case_s": round(max(float(r["slowest_s"]) for r in results), 3),  # type: ignore[arg-type]
        "failures": failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "failures"}, indent=2))
    print(f"{len(failures)} failures" + (f"; cases in {args.crashes}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
