"""`resdsl summary` figures against independent references (tests/fixtures/facts.json).

Parameter counts come from torchvision and from PyTorch builds of the paper's CIFAR nets;
multiply-adds from He et al. 2015, Table 1, and from an analytic count of ResNet-50.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resdsl.cli import app
from resdsl.pipeline import analyze

ROOT = Path(__file__).resolve().parent.parent
FACTS = json.loads((ROOT / "tests" / "fixtures" / "facts.json").read_text())


def _network(spec: str, *defines: str):  # type: ignore[no-untyped-def]
    result = analyze(ROOT / spec, defines=list(defines))
    assert result.ok, [d.message for d in result.diagnostics]
    return result.network


def _summary_json(spec: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> dict:  # type: ignore[type-arg]
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["summary", "--format", "json", spec, *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(("spec", "params"), sorted(FACTS["torchvision_params"].items()))
def test_params_equal_torchvision(spec: str, params: int) -> None:
    assert _network(spec).total_params == params


@pytest.mark.parametrize(("depth", "params"), sorted(FACTS["cifar_params"].items()))
def test_cifar_params(depth: str, params: int) -> None:
    assert _network(f"specs/cifar/resnet{depth}.res").total_params == params


@pytest.mark.parametrize("depth", ["20", "32", "44", "56", "110"])
def test_plain_cifar_nets_equal_their_option_a_twins(depth: str) -> None:
    # option A shortcuts have no parameters, so removing them changes no count
    assert _network(f"specs/cifar/plain{depth}.res").total_params == FACTS["cifar_params"][depth]


@pytest.mark.parametrize(("spec", "macs"), sorted(FACTS["paper_macs"].items()))
def test_paper_macs_within_2_percent(spec: str, macs: float) -> None:
    assert _network(spec).total_macs == pytest.approx(macs, rel=0.02)


def test_resnet50_macs_both_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    v15 = _summary_json("specs/resnet50.res", monkeypatch=monkeypatch)
    v1 = _summary_json("specs/resnet50.res", "-D", "stride_at=1x1", monkeypatch=monkeypatch)
    assert v15["macs"] == pytest.approx(FACTS["resnet50_macs"]["stride_at=3x3"], rel=0.005)
    assert v1["macs"] == pytest.approx(FACTS["resnet50_macs"]["stride_at=1x1"], rel=0.005)


def test_summary_json_keys_and_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _summary_json("specs/resnet18.res", monkeypatch=monkeypatch)
    assert {"network", "input", "output", "params", "macs", "layers"} <= set(data)
    assert data["network"] == "resnet18"
    assert data["input"] == [3, 224, 224]
    assert data["output"] == [1000]
    assert data["params"] == FACTS["torchvision_params"]["specs/resnet18.res"]
    assert data["params"] == sum(row["params"] for row in data["layers"])
    assert data["macs"] == sum(row["macs"] for row in data["layers"])
    rows = {row["name"]: row for row in data["layers"]}
    # hand-computed: conv1 7x7/2, 3 -> 64, on 224 -> 112
    assert rows["conv1"]["output"] == [64, 112, 112]
    assert rows["conv1"]["params"] == 64 * 3 * 7 * 7
    assert rows["conv1"]["macs"] == 64 * 3 * 7 * 7 * 112 * 112
    assert rows["layer2.0.downsample.0"]["output"] == [128, 28, 28]
    assert rows["fc"]["params"] == 512 * 1000 + 1000


def test_vgg19(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _summary_json("specs/vgg19.res", monkeypatch=monkeypatch)
    assert data["params"] == FACTS["vgg19"]["params"]
    assert data["macs"] == pytest.approx(FACTS["vgg19"]["macs"], rel=0.02)


def test_plain34_macs(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _summary_json("specs/plain34.res", monkeypatch=monkeypatch)
    assert data["macs"] == pytest.approx(FACTS["plain34_macs"], rel=0.02)
