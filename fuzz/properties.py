"""The properties every fuzz case must satisfy, checked in-process.

A violated property raises :class:`PropertyFailure`; anything else the case does is an outcome to
count (accepted, rejected with codes, soundness checked, skipped as too large to run).
"""

from __future__ import annotations

import hashlib
import resource
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from resdsl.diagnostics import Diagnostic
from resdsl.pipeline import analyze

TIME_LIMIT_S = 10.0  # per case, checker and backends together
MEMORY_LIMIT_MB = 6_000  # peak resident memory of a worker
# Networks above this run their soundness forward pass on torch's meta device (shapes only) and
# skip onnxruntime; everything else runs for real on the CPU.
RUN_MACS = 3e8
RUN_PARAMS = 3e7


class PropertyFailure(Exception):
    pass


class CaseTimeout(PropertyFailure):
    pass


@dataclass
class Outcome:
    accepted: bool = False
    codes: list[str] = field(default_factory=list)
    sound_torch: bool = False
    sound_onnx: bool = False
    meta_only: bool = False
    skipped_large: bool = False
    duplicate: bool = False
    seconds: float = 0.0


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise CaseTimeout(f"case took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_located(diagnostics: list[Diagnostic], sources: dict[str, object]) -> None:
    for d in diagnostics:
        s = d.span
        if not s.path:
            raise PropertyFailure(f"diagnostic without a file: {d}")
        src = sources.get(s.path)
        if src is None:
            raise PropertyFailure(f"diagnostic in an unknown file {s.path!r}: {d.code} {d.message}")
        n_lines = max(1, len(src.text.splitlines()))  # type: ignore[attr-defined]
        if not (1 <= s.line <= n_lines + 1 and s.column >= 1):
            raise PropertyFailure(f"diagnostic outside its file ({n_lines} lines): {s} {d.code} {d.message}")
        if (s.end_line, s.end_column) < (s.line, s.column):
            raise PropertyFailure(f"diagnostic span ends before it starts: {s}")
        if not d.message or "Traceback" in d.message:
            raise PropertyFailure(f"bad diagnostic message: {d}")


def check_memory() -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if peak_mb > MEMORY_LIMIT_MB:
        raise PropertyFailure(f"memory grew to {peak_mb:.0f} MB")


class Soundness:
    """Builds what `check` accepted with both backends, once per distinct generated module."""

    def __init__(self, onnx: bool = True) -> None:
        self.seen: set[str] = set()
        self.onnx = onnx

    def __call__(self, network: object, outcome: Outcome) -> None:
        import torch

        from resdsl.backends import EmitOptions
        from resdsl.backends.torch import class_name, emit

        net = network
        code = emit(net, EmitOptions(spec_path="fuzz.res"))  # type: ignore[arg-type]
        key = hashlib.sha256(code.encode()).hexdigest()
        if key in self.seen:
            outcome.duplicate = True
            return
        self.seen.add(key)
        namespace: dict[str, object] = {"__name__": "resdsl_fuzz_case"}
        try:
            exec(compile(code, "<fuzz>", "exec"), namespace)
        except SyntaxError as err:
            raise PropertyFailure(f"generated Python does not compile: {err}") from err
        cls = namespace[class_name(net.name)]  # type: ignore[attr-defined]
        expected = (2, *net.output_shape)  # type: ignore[attr-defined]
        small = net.total_macs <= RUN_MACS and net.total_params <= RUN_PARAMS  # type: ignore[attr-defined]
        with torch.no_grad():
            if small:
                model = cls().eval()  # type: ignore[operator]
                x = torch.randn(2, *net.input_shape)  # type: ignore[attr-defined]
            else:
                outcome.meta_only = True
                with torch.device("meta"):
                    model = cls().eval()  # type: ignore[operator]
                    x = torch.empty(2, *net.input_shape)  # type: ignore[attr-defined]
            try:
                y = model(x)
            except Exception as err:
                raise PropertyFailure(f"accepted spec fails in torch: {type(err).__name__}: {err}") from err
        if tuple(y.shape) != expected:
            raise PropertyFailure(f"torch output {tuple(y.shape)} but summary predicted {expected}")
        outcome.sound_torch = True
        if self.onnx and small:
            self._onnx(net, expected, outcome)

    def _onnx(self, net: object, expected: tuple[int, ...], outcome: Outcome) -> None:
        try:
            from resdsl.backends.onnx import emit as emit_onnx
        except ImportError:
            return
        import numpy as np
        import onnx
        import onnxruntime as ort

        from resdsl.backends import EmitOptions

        try:
            data = emit_onnx(net, EmitOptions(spec_path="fuzz.res"))  # type: ignore[arg-type]
            model = onnx.load_from_string(data)
            onnx.checker.check_model(model, full_check=True)
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
            x = np.random.default_rng(0).standard_normal((2, *net.input_shape)).astype(np.float32)  # type: ignore[attr-defined]
            (y,) = session.run(None, {session.get_inputs()[0].name: x})
        except PropertyFailure:
            raise
        except Exception as err:
            raise PropertyFailure(f"accepted spec fails in ONNX: {type(err).__name__}: {err}") from err
        if tuple(y.shape) != expected:
            raise PropertyFailure(f"onnx output {tuple(y.shape)} but summary predicted {expected}")
        outcome.sound_onnx = True


class CliCheck:
    """Runs the real `resdsl check` CLI (in-process) on a case written into a mirror of specs/."""

    def __init__(self, specs: Path, mirror: Path) -> None:
        import shutil

        from typer.testing import CliRunner

        self.specs = specs
        self.mirror = mirror
        shutil.copytree(specs, mirror / "specs", dirs_exist_ok=True)
        self.runner = CliRunner()

    def __call__(self, path: Path, text: str) -> int:
        from resdsl.cli import app

        target = self.mirror / "specs" / path.relative_to(self.specs)
        original = target.read_bytes() if target.exists() else None
        target.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            result = self.runner.invoke(app, ["check", str(target)])
        finally:
            if original is None:
                target.unlink()
            else:
                target.write_bytes(original)
        output = result.output
        if result.exit_code not in (0, 1):
            raise PropertyFailure(f"`resdsl check` exited {result.exit_code}: {output[-500:]}")
        if "Traceback" in output or (result.exception and not isinstance(result.exception, SystemExit)):
            raise PropertyFailure(f"`resdsl check` printed a traceback: {output[-500:]}")
        if result.exit_code == 1 and "error[" not in output:
            raise PropertyFailure("`resdsl check` exited 1 without an error diagnostic")
        return result.exit_code


def run_case(path: Path, text: str, soundness: Soundness | None, cli: CliCheck | None = None) -> Outcome:
    """Check one spec text as `resdsl check` would, then build it if accepted."""
    outcome = Outcome()
    start = time.perf_counter()
    with time_limit(TIME_LIMIT_S):
        try:
            result = analyze(path, text=text, all_networks=True, require_network=False)
        except PropertyFailure:
            raise
        except Exception as err:
            raise PropertyFailure(f"checker raised {type(err).__name__}: {err}") from err
        check_located(result.diagnostics, result.sources)
        errors = [d for d in result.diagnostics if d.is_error]
        outcome.codes = sorted({d.code for d in result.diagnostics})
        outcome.accepted = not errors
        if outcome.accepted and soundness is not None:
            for network in result.networks:
                if any(d.code == "W302" for d in result.diagnostics):
                    # `check` flagged it as too large to build quickly: the one skip allowed.
                    outcome.skipped_large = True
                    continue
                soundness(network, outcome)
        if cli is not None:
            code = cli(path, text)
            if code != (0 if outcome.accepted else 1):
                raise PropertyFailure(
                    f"`resdsl check` exited {code} but the checker {'accepted' if outcome.accepted else 'rejected'} the spec"
                )
    check_memory()
    outcome.seconds = time.perf_counter() - start
    return outcome
