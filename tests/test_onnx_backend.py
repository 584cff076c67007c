"""The ONNX backend: every shipped spec compiles, checks and runs; onnxruntime agrees with torch.

Reference figures come from outside resdsl: torchvision's state_dict shapes
(tests/fixtures/torchvision-0.29.1-resnets.json), node counts of ResNet-50 counted by hand
(53 convs, 53 BNs, 49 ReLUs, 16 adds, max pool, global pool, flatten, Gemm), ONNX's own shape
inference, and the torch backend's outputs for the same weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import onnx.parser
import onnx.shape_inference
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from resdsl.backends import EmitOptions
from resdsl.backends.onnx import emit_text
from resdsl.cli import app
from resdsl.pipeline import analyze

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
GOLDEN = ROOT / "tests" / "golden" / "onnx"
TORCHVISION = json.loads((FIXTURES / "torchvision-0.29.1-resnets.json").read_text())

# ImageNet specs run at 64x64 (every ResNet ends in a global pool, so only speed changes).
SMALL = "3x64x64"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def compile_onnx(tmp_path: Path, spec: str, *args: str, name: str = "out.onnx") -> onnx.ModelProto:
    out = tmp_path / name
    result = CliRunner().invoke(app, ["compile", spec, "--target", "onnx", "-o", str(out), *args])
    assert result.exit_code == 0, result.stderr
    return onnx.load(str(out))


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def dims(value_info: onnx.ValueInfoProto) -> list[str | int]:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


# --- every shipped spec ----------------------------------------------------------------------

# spec -> (extra arguments, classes, the torchvision model its weights must match)
SPECS: dict[str, tuple[list[str], int, str | None]] = {
    "specs/resnet18.res": (["--input", SMALL], 1000, "resnet18"),
    "specs/resnet34.res": (["--input", SMALL], 1000, "resnet34"),
    "specs/resnet50.res": (["--input", SMALL], 1000, "resnet50"),
    "specs/resnet101.res": (["--input", SMALL], 1000, "resnet101"),
    "specs/resnet152.res": (["--input", SMALL], 1000, "resnet152"),
    "specs/resnext50_32x4d.res": (["--input", SMALL], 1000, "resnext50_32x4d"),
    "specs/wide_resnet50_2.res": (["--input", SMALL], 1000, "wide_resnet50_2"),
    "specs/preact_resnet18.res": (["--input", SMALL], 1000, None),
    "specs/plain34.res": (["--input", SMALL], 1000, None),
    "specs/vgg19.res": (["--input", SMALL], 1000, None),
    "specs/paper/resnet18.res": (["--input", SMALL], 1000, "resnet18"),
    "specs/paper/resnet34.res": (["--input", SMALL], 1000, "resnet34"),
    "specs/paper/resnet50.res": (["--input", SMALL], 1000, "resnet50"),
    "specs/paper/resnet101.res": (["--input", SMALL], 1000, "resnet101"),
    "specs/paper/resnet152.res": (["--input", SMALL], 1000, "resnet152"),
    "specs/cifar/family.res": ([], 10, None),
    "specs/cifar/resnet20.res": ([], 10, None),
    "specs/cifar/resnet32.res": ([], 10, None),
    "specs/cifar/resnet44.res": ([], 10, None),
    "specs/cifar/resnet56.res": ([], 10, None),
    "specs/cifar/resnet110.res": ([], 10, None),
    "specs/cifar/resnet1202.res": ([], 10, None),
    "specs/cifar/plain20.res": ([], 10, None),
    "specs/cifar/plain32.res": ([], 10, None),
    "specs/cifar/plain44.res": ([], 10, None),
    "specs/cifar/plain56.res": ([], 10, None),
    "specs/cifar/plain110.res": ([], 10, None),
    "specs/cifar/preact_resnet110.res": ([], 10, None),
}


def test_the_spec_table_lists_every_shipped_network() -> None:
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "specs").rglob("*.res")}
    assert shipped - {"specs/std.res"} == set(SPECS)


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_every_spec_compiles_checks_and_runs(tmp_path: Path, spec: str) -> None:
    args, classes, torchvision_name = SPECS[spec]
    model = compile_onnx(tmp_path, spec, *args)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["logits"]
    assert dims(model.graph.output[0]) == ["N", classes]
    side = 64 if args else 32
    x = np.random.default_rng(0).standard_normal((2, 3, side, side)).astype(np.float32)
    (out,) = session(model).run(["logits"], {"input": x})
    assert out.shape == (2, classes)
    # At initialisation (BN the identity) the residual stream's variance about doubles per
    # block: 600 blocks of ResNet-1202 overflow float32, in torch too.
    assert np.isfinite(out).all() or spec == "specs/cifar/resnet1202.res"
    if torchvision_name is not None:  # the names and shapes torchvision's weights have
        expected = {
            k: v for k, v in TORCHVISION[torchvision_name]["state_dict"].items() if "num_batches" not in k
        }
        got = {t.name: list(t.dims) for t in model.graph.initializer}
        assert got == expected


# --- shapes -------------------------------------------------------------------------------


def test_onnx_shape_inference_agrees_with_resdsl_on_every_tensor(tmp_path: Path) -> None:
    model = compile_onnx(tmp_path, "tests/fixtures/onnx/constructs.res")
    declared = {v.name: dims(v) for v in model.graph.value_info}
    assert declared["pool1"] == ["N", 16, 12, 12]  # 45 -> conv 5x5/2 p2 -> 23 -> ceil pool -> 12
    assert declared["avg"] == ["N", 96, 2, 2]  # 3x3 -> 3x3/2 p1 ceil -> 2
    assert declared["flatten"] == ["N", 384]
    del model.graph.value_info[:]
    model.graph.output[0].type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert {v.name: dims(v) for v in inferred.graph.value_info} == declared
    assert dims(inferred.graph.output[0]) == ["N", 7]


def test_resnet50_output_shape_matches_resdsl(tmp_path: Path) -> None:
    model = compile_onnx(tmp_path, "specs/resnet50.res")
    net = analyze(Path("specs/resnet50.res")).network
    assert net.output_shape == (1000,)
    assert dims(model.graph.input[0]) == ["N", 3, 224, 224]
    model.graph.output[0].type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert dims(inferred.graph.output[0]) == ["N", 1000]
    by_name = {v.name: dims(v) for v in inferred.graph.value_info}
    assert by_name["layer1.2.relu_2"] == ["N", 256, 56, 56]
    assert by_name["layer4.2.relu_2"] == ["N", 2048, 7, 7]


def test_fixed_batch(tmp_path: Path) -> None:
    model = compile_onnx(tmp_path, "specs/cifar/resnet20.res", "--batch", "4")
    assert dims(model.graph.input[0]) == [4, 3, 32, 32]
    assert dims(model.graph.output[0]) == [4, 10]
    sess = session(model)
    (out,) = sess.run(["logits"], {"input": np.zeros((4, 3, 32, 32), np.float32)})
    assert out.shape == (4, 10)
    with pytest.raises(Exception, match=r"[Ii]nvalid dimensions|[Gg]ot invalid"):
        sess.run(["logits"], {"input": np.zeros((2, 3, 32, 32), np.float32)})


@pytest.mark.parametrize("batch", ["0", "two", "-1"])
def test_bad_batch_is_a_usage_error(tmp_path: Path, batch: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "compile",
            "specs/cifar/resnet20.res",
            "--target",
            "onnx",
            "-o",
            str(tmp_path / "x.onnx"),
            "--batch",
            batch,
        ],
    )
    assert result.exit_code == 2
    assert "--batch" in result.stderr


# --- BN folding ---------------------------------------------------------------------------


def test_resnet50_node_counts(tmp_path: Path) -> None:
    ops = [n.op_type for n in compile_onnx(tmp_path, "specs/resnet50.res", "--input", SMALL).graph.node]
    assert len(ops) == 175
    assert (ops.count("Conv"), ops.count("BatchNormalization"), ops.count("Add")) == (53, 53, 16)
    folded = compile_onnx(tmp_path, "specs/resnet50.res", "--input", SMALL, "--fold-bn", name="f.onnx")
    ops = [n.op_type for n in folded.graph.node]
    assert len(ops) == 122
    assert "BatchNormalization" not in ops
    assert {t.name for t in folded.graph.initializer} >= {"conv1.weight", "conv1.bias", "fc.weight"}
    assert not any("bn" in t.name for t in folded.graph.initializer)


def test_fold_keeps_bn_that_follows_no_conv(tmp_path: Path) -> None:
    model = compile_onnx(tmp_path, "specs/cifar/preact_resnet110.res", "-D", "n=2", "--fold-bn")
    bns = [n.name for n in model.graph.node if n.op_type == "BatchNormalization"]
    # bn1 of each block reads the block input; the head's bn reads the last join
    assert bns == [f"layer{s}.{i}.bn1" for s in (1, 2, 3) for i in (0, 1)] + ["bn"]


# --- parity with the torch backend -----------------------------------------------------------


def _torch_model(spec: str, input: str | None, params: dict[str, object]) -> torch.nn.Module:
    import resdsl

    torch.manual_seed(0)
    model = resdsl.load(spec, input=input, **params)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # BN stats far from 0/1, so that folding them is really tested
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.25)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.3)
                m.num_batches_tracked.fill_(7)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model.eval()


PARITY = [
    ("specs/resnet18.res", SMALL, {}, False),
    ("specs/resnet50.res", SMALL, {}, False),
    ("specs/resnet50.res", SMALL, {}, True),
    ("specs/cifar/resnet20.res", None, {}, False),
    ("specs/cifar/resnet20.res", None, {}, True),
    ("specs/cifar/preact_resnet110.res", None, {"n": 2}, False),
    ("specs/cifar/preact_resnet110.res", None, {"n": 2}, True),
    ("specs/preact_resnet18.res", SMALL, {}, True),
    ("specs/resnext50_32x4d.res", SMALL, {}, False),
    ("tests/fixtures/onnx/resnet18_d.res", None, {}, False),
    ("tests/fixtures/onnx/resnet18_d.res", None, {}, True),
    ("specs/cifar/family.res", None, {"n": 2, "policy": "C"}, False),
    ("specs/cifar/family.res", None, {"n": 2, "policy": "C"}, True),
    ("tests/fixtures/onnx/constructs.res", None, {}, False),
    ("tests/fixtures/onnx/constructs.res", None, {}, True),
    ("tests/fixtures/onnx/odd_names.res", None, {}, False),
]


def _parity_id(spec: str, params: dict[str, object], fold: bool) -> str:
    return "-".join([Path(spec).stem, *(f"{k}={v}" for k, v in params.items()), *(["fold"] if fold else [])])


@pytest.mark.parametrize(
    ("spec", "input", "params", "fold"), PARITY, ids=[_parity_id(s, p, f) for s, _, p, f in PARITY]
)
def test_onnxruntime_matches_torch(
    tmp_path: Path, spec: str, input: str | None, params: dict[str, object], fold: bool
) -> None:
    model = _torch_model(spec, input, params)
    weights = tmp_path / "weights.pt"
    torch.save(model.state_dict(), weights)
    args = ["--weights", str(weights)] + (["--input", input] if input else [])
    args += [a for k, v in params.items() for a in ("-D", f"{k}={v}")] + (["--fold-bn"] if fold else [])
    onnx_model = compile_onnx(tmp_path, spec, *args)
    if not fold:  # the initializers are the state_dict, under the same keys
        keys = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
        assert {t.name for t in onnx_model.graph.initializer if not t.name.startswith("const.")} == keys
    sess = session(onnx_model)
    c, h, w = dims(onnx_model.graph.input[0])[1:]
    g = torch.Generator().manual_seed(2)
    for batch in (1, 3):
        x = torch.randn(batch, c, h, w, generator=g)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = sess.run(["logits"], {"input": x.numpy()})
        assert got.shape == expected.shape
        relative = np.abs(got - expected).max() / np.abs(expected).max()
        assert relative <= 1e-4, f"batch {batch}: max relative difference {relative:.2e}"


def test_option_a_shortcut_is_slice_and_pad(tmp_path: Path) -> None:
    model = compile_onnx(tmp_path, "specs/cifar/resnet20.res")
    nodes = {n.name: n for n in model.graph.node}
    assert nodes["layer2.0.shortcut.slice"].op_type == "Slice"
    assert nodes["layer2.0.shortcut.slice"].input[0] == "layer1.2.relu_1"
    assert nodes["layer2.0.shortcut.pad"].op_type == "Pad"
    consts = {t.name: onnx.numpy_helper.to_array(t).tolist() for t in model.graph.initializer}
    steps, pads = nodes["layer2.0.shortcut.slice"].input[4], nodes["layer2.0.shortcut.pad"].input[1]
    assert consts[steps] == [2, 2]
    assert consts[pads] == [0, 0, 0, 0, 0, 16, 0, 0]  # 16 -> 32 channels, zeros appended
    assert not any(
        n.op_type in ("Slice", "Pad")
        for n in compile_onnx(tmp_path, "specs/cifar/family.res", "-D", "policy=B", name="b.onnx").graph.node
    )


def test_plain_network_has_no_add(tmp_path: Path) -> None:
    ops = [n.op_type for n in compile_onnx(tmp_path, "specs/cifar/plain20.res").graph.node]
    assert "Add" not in ops
    assert ops.count("Conv") == 19


def test_dropout_is_omitted(tmp_path: Path) -> None:
    ops = [n.op_type for n in compile_onnx(tmp_path, "specs/vgg19.res", "--input", SMALL).graph.node]
    assert "Dropout" not in ops
    assert ops.count("Gemm") == 3


@pytest.mark.parametrize("opset", [13, 18, 23])
def test_other_opsets_compute_the_same(tmp_path: Path, opset: int) -> None:
    spec = "tests/fixtures/onnx/constructs.res"
    base = compile_onnx(tmp_path, spec, name="base.onnx")
    other = compile_onnx(tmp_path, spec, "--opset", str(opset))
    assert [o.version for o in other.opset_import] == [opset]
    onnx.checker.check_model(other, full_check=True)
    x = np.random.default_rng(3).standard_normal((2, 3, 45, 45)).astype(np.float32)
    (want,) = session(base).run(["logits"], {"input": x})
    (got,) = session(other).run(["logits"], {"input": x})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_trailing_dropout_still_writes_logits(tmp_path: Path) -> None:
    spec = tmp_path / "tail.res"
    spec.write_text(
        "import std\nnetwork tail {\n    input 3 x 8 x 8\n    classes 5\n    conv1: conv 3x3 -> 4\n"
        "    globalpool\n    flatten\n    fc: linear -> classes\n    dropout 0.3\n    identity\n}\n"
    )
    model = compile_onnx(tmp_path, str(spec))
    assert [n.op_type for n in model.graph.node] == ["Conv", "GlobalAveragePool", "Flatten", "Gemm"]
    assert model.graph.node[-1].output[0] == "logits"
    assert model.graph.node[-1].name == "fc"
    # unnamed layers get their kind as the node name
    assert [n.name for n in model.graph.node] == ["conv1", "globalpool", "flatten", "fc"]


def test_a_layer_named_logits_is_not_the_output(tmp_path: Path) -> None:
    spec = tmp_path / "clash.res"
    spec.write_text(
        "import std\nnetwork clash {\n    input 3 x 8 x 8\n    classes 5\n    logits: conv 3x3 -> 4\n"
        "    relu: relu\n    relu\n    globalpool\n    flatten\n    fc: linear -> classes\n}\n"
    )
    model = compile_onnx(tmp_path, str(spec))
    assert [(n.name, n.output[0]) for n in model.graph.node] == [
        ("logits_1", "logits_1"),
        ("relu", "relu"),
        ("relu_1", "relu_1"),
        ("globalpool", "globalpool"),
        ("flatten", "flatten"),
        ("fc", "logits"),
    ]
    assert model.graph.node[0].input[1] == "logits.weight"  # the state_dict key is kept


# --- seeded initial weights -----------------------------------------------------------------


def test_seeded_weights(tmp_path: Path) -> None:
    a = compile_onnx(tmp_path, "specs/resnet18.res", "--input", SMALL, name="a.onnx")
    b = compile_onnx(tmp_path, "specs/resnet18.res", "--input", SMALL, "--seed", "1", name="b.onnx")
    wa = {t.name: onnx.numpy_helper.to_array(t) for t in a.graph.initializer}
    wb = {t.name: onnx.numpy_helper.to_array(t) for t in b.graph.initializer}
    # Kaiming normal, fan_out: std sqrt(2 / (64 * 3 * 3)) = 0.05893 for a 64 -> 64 3x3 conv
    assert wa["layer1.0.conv1.weight"].std() == pytest.approx(0.05893, rel=0.02)
    assert wa["conv1.weight"].std() == pytest.approx((2 / (64 * 49)) ** 0.5, rel=0.02)
    assert abs(wa["fc.weight"]).max() <= 1 / 512**0.5  # uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert (wa["bn1.weight"] == 1).all() and (wa["bn1.running_var"] == 1).all()
    assert (wa["bn1.bias"] == 0).all() and (wa["bn1.running_mean"] == 0).all()
    assert not np.array_equal(wa["layer1.0.conv1.weight"], wb["layer1.0.conv1.weight"])


# --- determinism; no torch unless asked for ---------------------------------------------------

_RUN_CLI = """
import sys
from resdsl.cli import main
sys.argv = ["resdsl", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
print("torch imported" if "torch" in sys.modules else "no torch")
"""


def _cli_subprocess(args: list[str], hashseed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    done = subprocess.run(
        [sys.executable, "-c", _RUN_CLI, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_byte_identical_across_hash_seeds_and_torch_free(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}.onnx"
        args = ["compile", "tests/fixtures/onnx/constructs.res", "-t", "onnx", "--fold-bn", "-o", str(out)]
        assert _cli_subprocess(args, seed) == "no torch"
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    again = tmp_path / "again.onnx"
    CliRunner().invoke(
        app, ["compile", "tests/fixtures/onnx/constructs.res", "-t", "onnx", "--fold-bn", "-o", str(again)]
    )
    assert again.read_bytes() == outputs[0]


def test_without_onnx_installed_it_is_a_usage_error(tmp_path: Path) -> None:
    code = "import sys\nsys.modules['onnx'] = None\n" + _RUN_CLI
    args = ["compile", "specs/cifar/resnet20.res", "-t", "onnx", "-o", str(tmp_path / "x.onnx")]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1  # the assert in _RUN_CLI: the CLI exited non-zero
    assert "error: --target onnx needs onnx: pip install 'resdsl[onnx]'" in done.stderr
    assert "AssertionError: 2" in done.stderr  # exit code 2, a usage error


# --- golden text ----------------------------------------------------------------------------


def test_golden_text() -> None:
    """``python tests/regenerate_golden.py onnx`` rewrites them; review their diff."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from regenerate_golden import onnx as onnx_goldens
    finally:
        sys.path.remove(str(ROOT / "tests"))
    texts = onnx_goldens()
    assert sorted(texts) == sorted(f"onnx/{p.name}" for p in GOLDEN.glob("*.onnxtxt"))
    for name, text in texts.items():
        assert text == (GOLDEN.parent / name).read_text(encoding="utf-8"), f"{name} changed"
        onnx.parser.parse_model(text)  # the text itself is valid ONNX syntax


def test_golden_text_is_what_emit_text_writes() -> None:
    net = analyze(Path("specs/cifar/resnet20.res"), defines=["n=1"]).network
    text = emit_text(net, EmitOptions(spec_path="specs/cifar/resnet20.res"))
    golden = (GOLDEN / "resnet20-n1.onnxtxt").read_text(encoding="utf-8")
    assert text == golden
    # hand-checked lines: option A in layer2.0, the head writing `logits`
    assert (
        '  ["layer2.0.shortcut.slice"] "layer2.0.shortcut.slice" = Slice ("layer1.0.relu_1", '
        '"const.slice_starts", "const.slice_ends_32x32", "const.slice_axes", "const.slice_steps_2x2")\n'
    ) in golden
    assert '  int64[8] "const.pad_channels_16" = {0, 0, 0, 0, 0, 16, 0, 0},\n' in golden
    assert '  ["fc"] "logits" = Gemm <transB = 1> ("flatten", "fc.weight", "fc.bias")\n' in golden


# --- weights that do not fit: E401 ----------------------------------------------------------


def _resnet20_state(n: int = 1) -> dict[str, torch.Tensor]:
    import resdsl

    return resdsl.load("specs/cifar/resnet20.res", n=n).state_dict()


def _compile_with(tmp_path: Path, state: object, *extra: str) -> tuple[int, str, str]:
    weights = tmp_path / "w.pt"
    torch.save(state, weights)
    out = tmp_path / "out.onnx"
    argv = ["compile", "specs/cifar/resnet20.res", "-D", "n=1", "-t", "onnx", "-o", str(out), "--weights"]
    result = CliRunner().invoke(app, [*argv, str(weights), *extra])
    assert not (result.exit_code and out.exists())
    return result.exit_code, result.stdout, result.stderr


def test_wrong_key_is_e401(tmp_path: Path) -> None:
    state = _resnet20_state()
    state["layer1.0.convX.weight"] = state.pop("layer1.0.conv1.weight")
    code, stdout, stderr = _compile_with(tmp_path, state)
    assert code == 1
    assert stdout == ""
    assert "error[E401]: `layer1.0.conv1.weight` is missing from `w.pt`" in stderr
    assert "error[E401]: unexpected key `layer1.0.convX.weight` in `w.pt`" in stderr
    assert "--> specs/std.res:" in stderr  # the layer that needs it
    assert "in block `layer1.0`" in stderr
    assert "Traceback" not in stderr


def test_wrong_shape_is_e401(tmp_path: Path) -> None:
    state = _resnet20_state()
    state["fc.weight"] = torch.zeros(10, 32)
    code, _, stderr = _compile_with(tmp_path, state)
    assert code == 1
    assert "error[E401]: `fc.weight` in `w.pt` has shape [10, 32], the spec needs [10, 64]" in stderr
    assert "Traceback" not in stderr


def test_weights_of_a_deeper_net_are_e401_with_a_cap(tmp_path: Path) -> None:
    code, _, stderr = _compile_with(tmp_path, _resnet20_state(n=3))
    assert code == 1
    assert stderr.count("error[E401]") == 10
    assert "more problems with `w.pt` not shown" in stderr


def test_integer_tensor_is_e401(tmp_path: Path) -> None:
    state = _resnet20_state()
    state["conv1.weight"] = state["conv1.weight"].long()
    code, _, stderr = _compile_with(tmp_path, state)
    assert code == 1
    assert "`conv1.weight` in `w.pt` is a Tensor torch.int64, not a floating-point tensor" in stderr


@pytest.mark.parametrize("under", ["state_dict", "model"])
def test_nested_state_dict_is_read(tmp_path: Path, under: str) -> None:
    # `resdsl train` checkpoints keep the state_dict under `model`
    code, _, stderr = _compile_with(tmp_path, {under: _resnet20_state(), "epoch": 3, "format": "x"})
    assert code == 0, stderr


def test_not_a_checkpoint_is_a_usage_error(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(
        app,
        [
            "compile",
            "specs/cifar/resnet20.res",
            "-t",
            "onnx",
            "-o",
            str(tmp_path / "o.onnx"),
            "--weights",
            str(weights),
        ],
    )
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr
