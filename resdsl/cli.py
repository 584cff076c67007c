"""The command line: ``resdsl check | summary | compile | train | eval``.

Exit codes: 0 clean (warnings allowed), 1 errors in a spec, 2 usage or I/O errors, 101 an
internal error (a bug in resdsl, to be reported). Diagnostics go to stderr; generated code to
stdout or ``-o``; machine-readable reports (``--format json``) to stdout.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from . import __version__
from .diagnostics import Diagnostic, Format, render_all, summary_line
from .pipeline import Analysis, UsageError, analyze

app = typer.Typer(
    name="resdsl",
    help="Describe, check and generate ResNet-family networks.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])

ISSUE_URL = "https://github.com/resdsl/resdsl/issues"


def _err(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def guard(func: F) -> F:
    """Turn a bug into exit code 101 with a plain message, never a bare traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except UsageError as err:
            _err(f"error: {err}\n")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _err("interrupted\n")
            raise typer.Exit(130) from None
        except Exception as err:
            _err(f"error: internal error in resdsl {__version__}: {type(err).__name__}: {err}\n")
            if _state["debug"] or os.environ.get("RESDSL_DEBUG"):
                _err(traceback.format_exc())
            else:
                _err(
                    f"note: this is a bug; please report it at {ISSUE_URL} (rerun with --debug for the traceback)\n"
                )
            raise typer.Exit(101) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"resdsl {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _color() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def _report(diagnostics: list[Diagnostic], sources: dict[str, Any], fmt: Format = Format.human) -> None:
    if not diagnostics:
        return
    text = render_all(diagnostics, fmt, sources, color=_color())
    if fmt in (Format.json, Format.github):
        sys.stdout.write(text)
    else:
        _err(text)


def _exit_code(diagnostics: list[Diagnostic]) -> int:
    """0 clean or warnings only; 2 when every error is in the command line (`-D`, `--input`,
    located in `<-D name>`) or a file that cannot be read (E105); 1 for errors in a spec."""
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        return 0
    usage = all(d.code == "E105" or d.span.path.startswith("<") for d in errors)
    return 2 if usage else 1


Defines = Annotated[
    list[str] | None,
    typer.Option("-D", "--define", help="Set a network parameter: -D name=value.", metavar="NAME=VALUE"),
]
InputOpt = Annotated[
    str | None,
    typer.Option("--input", help="Override the declared input shape, e.g. 1x28x28.", metavar="CxHxW"),
]
NetworkOpt = Annotated[
    str | None, typer.Option("--network", help="Which network of the file to build, if it defines several.")
]


def build(spec: Path, defines: list[str] | None, input: str | None, network: str | None) -> Analysis:
    """Check a spec and build its network; on any error, report and exit."""
    result = analyze(spec, network=network, defines=defines or [], input=input)
    _report(result.diagnostics, result.sources)
    code = _exit_code(result.diagnostics)
    if code or not result.networks:
        raise typer.Exit(code or 1)
    return result


# --- check -------------------------------------------------------------------------------


def _spec_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*.res")
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
        else:
            files.append(path)
    return files


@app.command()
@guard
def check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Spec files or folders (searched for *.res).")
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="How to print diagnostics.")] = Format.human,
    defines: Defines = None,
    input: InputOpt = None,
) -> None:
    """Check specs: syntax, names, arguments, every shape, every shortcut. Nothing is generated."""
    files = _spec_files(paths or [Path(".")])
    if not files:
        _err("error: no .res files found\n")
        raise typer.Exit(2)
    diagnostics: list[Diagnostic] = []
    sources: dict[str, Any] = {}
    for path in files:
        result = analyze(path, defines=defines or [], input=input, all_networks=True, require_network=False)
        diagnostics += result.diagnostics
        sources.update(result.sources)
    _report(diagnostics, sources, format)
    if format in (Format.human, Format.concise):
        checked = f"checked {len(files)} file{'s' if len(files) != 1 else ''}"
        _err(f"{checked}: {summary_line(diagnostics)}\n")
    elif format is Format.json and not diagnostics:
        sys.stdout.write("[]\n")
    raise typer.Exit(_exit_code(diagnostics))


# --- summary -----------------------------------------------------------------------------


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
@guard
def summary(
    spec: Annotated[Path, typer.Argument(help="The spec file.")],
    defines: Defines = None,
    input: InputOpt = None,
    network: NetworkOpt = None,
    format: Annotated[
        SummaryFormat, typer.Option("--format", help="table, json or markdown.")
    ] = SummaryFormat.table,
) -> None:
    """Per-layer shapes, parameters and multiply-adds of a network, with totals."""
    from . import summary as summ

    net = build(spec, defines, input, network).network
    if format is SummaryFormat.json:
        sys.stdout.write(json.dumps(summ.to_json(net), indent=2) + "\n")
    elif format is SummaryFormat.markdown:
        sys.stdout.write(summ.markdown(net))
    else:
        from rich.console import Console

        console = Console(width=max(100, Console().width))
        console.print(summ.table(net))
        console.print(
            f"{net.name}: {net.total_params:,} parameters, {net.total_macs:,} multiply-adds "
            f"({summ.human_count(net.total_macs)}), output {list(net.output_shape or ())}"
        )


# --- compile -----------------------------------------------------------------------------

from .backends import BACKENDS, EmitOptions, Target  # noqa: E402


@app.command("compile")
@guard
def compile_(
    spec: Annotated[Path, typer.Argument(help="The spec file.")],
    target: Annotated[Target, typer.Option("--target", "-t", help="What to generate.")] = Target.torch,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (atomically) instead of stdout.")
    ] = None,
    defines: Defines = None,
    input: InputOpt = None,
    network: NetworkOpt = None,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset.", min=13, max=23)] = 17,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="ONNX: a PyTorch state_dict to embed.")
    ] = None,
    fold_bn: Annotated[bool, typer.Option("--fold-bn", help="ONNX: fold BatchNorm into the convs.")] = False,
    batch: Annotated[str, typer.Option("--batch", help="ONNX: 'dynamic' or a fixed batch size.")] = "dynamic",
    seed: Annotated[
        int, typer.Option("--seed", help="ONNX: seed of the initial weights without --weights.")
    ] = 0,
) -> None:
    """Generate a PyTorch module (--target torch) or an ONNX model (--target onnx)."""
    from .fsutil import atomic_write

    if batch != "dynamic" and not (batch.isdigit() and int(batch) >= 1):
        raise UsageError(f"--batch must be 'dynamic' or a positive integer, got {batch!r}")
    if weights is not None and target is not Target.onnx:
        raise UsageError("--weights is for --target onnx; torch modules load weights with load_state_dict")
    if weights is not None and not weights.is_file():
        raise UsageError(f"--weights: no such file {weights}")
    backend = BACKENDS[target]
    if backend.binary and output is None:
        raise UsageError(f"--target {target.value} writes a binary file: give -o FILE{backend.suffix}")
    analysis = build(spec, defines, input, network)
    net = analysis.network
    options = EmitOptions(
        spec_path=str(spec),
        opset=opset,
        weights=str(weights) if weights else None,
        fold_bn=fold_bn,
        batch=batch,
        seed=seed,
    )
    from .diagnostics import ResdslError

    try:
        artifact = backend.emit(net, options)
    except ResdslError as err:
        _report(err.diagnostics, analysis.sources)
        raise typer.Exit(1) from None
    if output is None:
        sys.stdout.write(artifact if isinstance(artifact, str) else artifact.decode())
        return
    try:
        atomic_write(output, artifact)
    except OSError as err:
        _err(f"error[E402]: cannot write `{output}`: {(err.strerror or str(err)).lower()}\n")
        raise typer.Exit(2) from None
    _err(f"wrote {output} ({net.name}, {net.total_params:,} parameters)\n")


# --- train, eval (resdsl/training; torch is imported only when they run) -----------------

from .training.commands import eval_, train  # noqa: E402

app.command()(guard(train))
app.command("eval")(guard(eval_))


def main() -> None:
    app(prog_name="resdsl")
