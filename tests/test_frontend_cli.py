"""The front end through its command line: exit codes, streams, formats, overrides, bad files.

Every expected line and column below was counted by hand from the spec text in the test.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resdsl.cli import app
from resdsl.diagnostics import Diagnostic, render_github
from resdsl.source import Span

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Invoke the CLI from the repository root (paths are shown relative to it)."""
    monkeypatch.chdir(ROOT)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner(env={"NO_COLOR": "1"}).invoke(app, list(args))

    return invoke


def _located(stdout: str) -> list[tuple[int, int, str]]:
    return [(d["line"], d["column"], d["code"]) for d in json.loads(stdout)]


# --- several mistakes, one run -------------------------------------------------------------

MULTI = """\
import std

block widen(width) {
    conv1: conv 3x3 -> widht
    relu
}

network broken {
    input 3 x 32 x 32
    classes 10
    stem cifar(16)
    stage layer1: 2 x basci(16)
    stage layer2: 2 x basic(32, strid = 2)
    head classifier
}

network lowered {
    input 3 x 32 x 32
    classes 10
    conv1: conv 3x3 -> 16, stride = true
    conv2: conv 3x3 -> 0
    conv3: conv 3x3 -> 16 / 0
    head classifier
}
"""


def test_independent_mistakes_are_all_reported(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "multi.res"
    spec.write_text(MULTI)
    result = run("check", "--format", "json", str(spec))
    assert result.exit_code == 1
    assert _located(result.stdout) == [
        (4, 24, "E201"),  # names: `widht`
        (12, 23, "E202"),  # names: `basci`
        (13, 33, "E205"),  # arguments: `strid`
        (20, 37, "E206"),  # lowering: stride = true
        (21, 24, "E207"),  # lowering: -> 0
        (22, 24, "E215"),  # lowering: 16 / 0
    ]


def test_mistakes_in_several_files_are_all_reported(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.res").write_text("network a {\n    input 3 x 8 x 8\n}\n")
    (tmp_path / "b.res").write_text("block b() {\n    conv 3x3 -> 8, strid = 2\n}\n")
    result = run("check", "--format", "concise", str(tmp_path))
    assert result.exit_code == 1
    a, b = str(tmp_path / "a.res"), str(tmp_path / "b.res")
    assert result.stderr.splitlines() == [
        f"{a}:1:9: error: network `a` has no `classes` statement [E212]",
        f"{b}:2:20: error: `conv` has no parameter `strid` [E205]",
        "checked 2 files: found 2 errors",
    ]


def test_the_same_error_in_every_block_of_a_stage_is_reported_once(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "json", "specs/resnet50.res", "-D", "stride_at=true")
    assert result.exit_code == 1
    got = json.loads(result.stdout)
    # std.res: `stride_at == 1x1` (line 27) and `stride_at == 3x3` (line 30), 16 blocks each
    assert [(d["file"], d["line"], d["code"]) for d in got] == [
        ("specs/std.res", 27, "E206"),
        ("specs/std.res", 30, "E206"),
    ]
    assert got[0]["notes"][-1] == "the same error occurs in 15 more expansions of this code"


# --- formats -------------------------------------------------------------------------------

E302_CASE = "tests/cases/E302_identity_shortcut.res"
E302_MESSAGE = "identity shortcut does not match the residual branch"
E302_HELP = "use `shortcut B` (1x1 projection) or `shortcut A` (zero-padded identity)"


def test_concise_format(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "concise", E302_CASE)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{E302_CASE}:11:5: error: {E302_MESSAGE} [E302]\nchecked 1 file: found 1 error\n"
    )


def test_json_format(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "json", E302_CASE)
    assert result.exit_code == 1
    # `    stage layer2: 1 x basic(32) stride 2` is 40 characters: the span ends before column 41
    assert json.loads(result.stdout) == [
        {
            "file": E302_CASE,
            "line": 11,
            "column": 5,
            "end_line": 11,
            "end_column": 41,
            "severity": "error",
            "code": "E302",
            "message": E302_MESSAGE,
            "help": E302_HELP,
            "notes": ["in block `layer2.0`, expanded from this stage"],
        }
    ]


def test_json_format_leaves_out_absent_help_and_notes(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "json", "tests/cases/E215_division_by_zero.res")
    (item,) = json.loads(result.stdout)
    assert set(item) == {"file", "line", "column", "end_line", "end_column", "severity", "code", "message"}
    assert (item["line"], item["column"], item["end_line"], item["end_column"]) == (6, 24, 6, 41)


def test_json_format_of_a_clean_file_is_an_empty_list(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "json", "specs/resnet18.res")
    assert (result.exit_code, result.stdout) == (0, "[]\n")


def test_github_format(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "github", E302_CASE)
    assert result.exit_code == 1
    assert result.stdout == (
        f"::error file={E302_CASE},line=11,col=5,endLine=11,endColumn=41,title=resdsl E302::"
        f"{E302_MESSAGE}%0A%0Ahelp: {E302_HELP}\n"
    )


def test_github_format_of_a_warning(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "github", "tests/cases/W201_unused_parameter.res")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "::warning file=tests/cases/W201_unused_parameter.res,line=3,col=20,endLine=3,endColumn=25,"
        "title=resdsl W201::parameter `depth` of block `widen` is never used%0A%0Ahelp: "
    )


def test_github_escaping_of_data_and_properties() -> None:
    d = Diagnostic("E201", "100% sure\r\nsecond: line, too", Span("dir,x/a:b%.res", 2, 3, 2, 9))
    assert render_github(d) == (
        "::error file=dir%2Cx/a%3Ab%25.res,line=2,col=3,endLine=2,endColumn=9,title=resdsl E201::"
        "100%25 sure%0D%0Asecond: line, too\n"
    )


def test_github_escaping_of_a_real_file_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "50%,a:b.res").write_text("network n {\n    classes 10\n}\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check", "--format", "github", "50%,a:b.res"])
    assert result.stdout == (
        "::error file=50%25%2Ca%3Ab.res,line=1,col=9,endLine=1,endColumn=10,title=resdsl E212::"
        "network `n` has no `input` statement%0A%0Ahelp: add a line such as `input 3 x 224 x 224`\n"
    )


# --- exit codes and streams ----------------------------------------------------------------


def test_clean_spec_exits_0_silently_but_for_the_count(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "specs/resnet50.res")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "checked 1 file: no problems found\n")


def test_warnings_alone_exit_0(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "specs/plain34.res")
    assert result.exit_code == 0
    assert "warning[W301]: plain network `plain34` is 34 layers deep" in result.stderr
    assert result.stderr.endswith("checked 1 file: found 1 warning\n")


def test_errors_exit_1_on_stderr(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "tests/cases/E201_unknown_name.res")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("error[E201]: unknown name `widht`\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "3x224"], "error: --input must look like 3x224x224, got '3x224'\n"),
        (["-D", "stride_at"], "error: -D takes name=value, got 'stride_at'\n"),
        (
            ["--network", "resnet5"],
            "error: no network `resnet5` in specs/resnet50.res; it defines resnet50\n",
        ),
    ],
)
def test_usage_errors_exit_2(run, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run("summary", "specs/resnet50.res", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_unknown_define_exits_2_with_a_suggestion(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "json", "specs/resnet50.res", "-D", "strde_at=1x1")
    assert result.exit_code == 2
    (item,) = json.loads(result.stdout)
    assert (item["file"], item["code"], item["message"]) == (
        "<-D strde_at>",
        "E205",
        "network `resnet50` has no parameter `strde_at`",
    )
    assert item["help"] == "did you mean `stride_at`?"


def test_malformed_define_value_is_located_in_the_value(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "specs/resnet50.res", "-D", "stride_at=3x")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[E101]: unexpected `x`\n --> <-D stride_at>:1:2\n")


def test_compile_error_leaves_stdout_empty(run) -> None:  # type: ignore[no-untyped-def]
    result = run("compile", "--target", "torch", "tests/cases/E305_groups.res")
    assert (result.exit_code, result.stdout) == (1, "")
    assert "error[E305]" in result.stderr


def test_compile_success_writes_code_to_stdout_only(run) -> None:  # type: ignore[no-untyped-def]
    result = run("compile", "--target", "torch", "specs/cifar/resnet20.res")
    assert (result.exit_code, result.stderr) == (0, "")
    assert "class Resnet20(nn.Module)" in result.stdout


def test_check_recurses_into_folders_and_skips_hidden_ones(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = "network n {\n    input 3 x 8 x 8\n    classes 8\n    flatten\n    fc: linear -> classes\n}\n"
    (tmp_path / "deep" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "top.res").write_text(good)
    (tmp_path / "deep" / "deeper" / "bad.res").write_text("network n {\n    input 3 x 8 x 8\n}\n")
    (tmp_path / ".hidden" / "ignored.res").write_text("garbage {")
    (tmp_path / "deep" / "notes.txt").write_text("garbage {")
    result = run("check", "--format", "concise", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{tmp_path}/deep/deeper/bad.res:1:9: error: network `n` has no `classes` statement [E212]",
        "checked 2 files: found 1 error",
    ]


def test_check_of_the_shipped_specs_is_clean_but_for_the_plain_nets(run) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--format", "concise", "specs")
    assert result.exit_code == 0
    warned = sorted(line.split(":")[0] for line in result.stderr.splitlines()[:-1])
    assert warned == [
        "specs/cifar/plain110.res",
        "specs/cifar/plain32.res",
        "specs/cifar/plain44.res",
        "specs/cifar/plain56.res",
        "specs/plain34.res",
    ]  # plain20 has 20 weight layers: not more than 20
    assert all("[W301]" in line for line in result.stderr.splitlines()[:-1])


# --- overrides -----------------------------------------------------------------------------


def test_input_override_rechecks_shapes(run) -> None:  # type: ignore[no-untyped-def]
    # VGG-19's five 2x2 pools take 16 -> 8 -> 4 -> 2 -> 1; pool5 (specs/vgg19.res:19) has no room
    result = run("check", "--format", "json", "specs/vgg19.res", "--input", "3x16x16")
    assert result.exit_code == 1
    (item,) = json.loads(result.stdout)
    assert (item["file"], item["line"], item["column"], item["code"]) == ("specs/vgg19.res", 19, 5, "E304")
    assert item["notes"] == ["its input is [512, 1, 1]"]


def test_resnet50_accepts_a_16_pixel_input_as_pytorch_does(run) -> None:  # type: ignore[no-untyped-def]
    # Padded convs and pools never shrink below 1 pixel: 16 -> 8 (conv1) -> 4 (maxpool)
    # -> 4, 2, 1, 1 (layer1..4); torchvision's resnet50 runs on 16x16 too.
    result = run("summary", "--format", "json", "specs/resnet50.res", "--input", "3x16x16")
    assert result.exit_code == 0
    layers = {row["name"]: row["output"] for row in json.loads(result.stdout)["layers"]}
    assert layers["maxpool"] == [64, 4, 4]
    assert layers["layer2.0.conv3"] == [512, 2, 2]
    assert layers["layer3.0.conv3"] == [1024, 1, 1]
    assert layers["layer4.0.conv3"] == [2048, 1, 1]
    assert layers["fc"] == [1000]


def test_define_override_changes_the_network(run) -> None:  # type: ignore[no-untyped-def]
    plain = json.loads(run("summary", "--format", "json", "specs/resnet50.res").stdout)
    paper = json.loads(run("summary", "--format", "json", "specs/resnet50.res", "-D", "stride_at=1x1").stdout)
    assert plain["params"] == paper["params"] == 25_557_032  # the stride moves, no weight changes
    assert paper["parameters"] == {"stride_at": "1x1"}
    conv1 = {r["name"]: r for r in paper["layers"]}["layer2.0.conv1"]
    assert (conv1["op"], conv1["output"]) == ("conv 1x1/2", [128, 28, 28])


def test_define_override_on_a_family(run) -> None:  # type: ignore[no-untyped-def]
    result = run("summary", "--format", "json", "specs/cifar/family.res", "-D", "n=9", "-D", "policy=none")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["params"] == 853_018  # plain-56 = ResNet-56 with option A


# --- files that are not specs --------------------------------------------------------------


def _check_bytes(run, tmp_path: Path, data: bytes):  # type: ignore[no-untyped-def]
    spec = tmp_path / "garbage.res"
    spec.write_bytes(data)
    return run("check", "--format", "json", str(spec))


def test_random_bytes_get_a_located_diagnostic(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20151210)
    for _ in range(5):
        data = bytes(rng.randrange(256) for _ in range(2000))
        result = _check_bytes(run, tmp_path, data)
        assert result.exit_code == 1
        (item,) = json.loads(result.stdout)
        assert item["code"] in ("E104", "E101", "E102")
        assert item["line"] >= 1 and item["column"] >= 1


def test_png_header(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = _check_bytes(run, tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert result.exit_code == 1
    (item,) = json.loads(result.stdout)
    assert (item["line"], item["column"], item["code"]) == (1, 1, "E104")
    assert item["message"].endswith("is not UTF-8 text (byte 0x89)")


def test_nul_byte(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = _check_bytes(run, tmp_path, b"network n {\n    input 3 x\x008 x 8\n}\n")
    assert result.exit_code == 1
    (item,) = json.loads(result.stdout)
    assert (item["line"], item["column"], item["code"]) == (2, 14, "E104")
    assert item["message"].endswith("is a binary file (a NUL byte)")


def test_non_utf8_column_counts_characters(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # line 2: `# größe ` is 8 characters (10 bytes); the Latin-1 byte is the 9th character
    result = _check_bytes(run, tmp_path, "import std\n# größe ".encode() + b"\xfc\n")
    (item,) = json.loads(result.stdout)
    assert (item["line"], item["column"], item["code"]) == (2, 9, "E104")
    human = run("check", str(tmp_path / "garbage.res"))
    assert "2 | # größe \ufffd\n  |         ^\n" in human.stderr


def test_control_characters_are_not_printed(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "esc.res"
    spec.write_text("network n { # \x1b[31mred\n    input 3 x 8 x 8\n    classes 8;\n}\n")
    result = run("check", str(spec))
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr


def test_form_feed_does_not_shift_line_numbers(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "ff.res"
    spec.write_text("# page one\f\nnetwork n {\n    input 3 x 8 x 8\n    clases 8\n}\n")
    result = run("check", str(spec))
    assert " --> " in result.stderr
    assert "4 |     clases 8\n" in result.stderr


def test_byte_order_mark_is_accepted(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "bom.res"
    spec.write_bytes(b"\xef\xbb\xbfnetwork n {\n    input 3 x 8 x 8\n    classes 192\n    flatten\n}\n")
    result = run("check", str(spec))
    assert (result.exit_code, result.stderr) == (0, "checked 1 file: no problems found\n")


def test_summary_of_a_directory_exits_2(run) -> None:  # type: ignore[no-untyped-def]
    result = run("summary", "specs/cifar")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("error[E105]: `specs/cifar` is a directory, not a spec file\n")
    assert "= help: `resdsl check` takes folders; the other commands take one .res file" in result.stderr


def test_missing_file_exits_2(run) -> None:  # type: ignore[no-untyped-def]
    result = run("summary", "specs/no_such.res")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error[E105]: cannot read `specs/no_such.res`: no such file or directory\n"
    )


def test_check_of_an_empty_folder_exits_2(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("check", str(tmp_path))
    assert (result.exit_code, result.stderr) == (2, "error: no .res files found\n")
