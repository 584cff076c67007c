"""Training compiled networks on real Fashion-MNIST: accuracy, exact resumption, eval, CLI, torchrun.

The module's runs share one fixture, done once (about a minute on two cores):

* run A: CIFAR ResNet-20 built for 1x28x28 (``--input 1x28x28``), the first 4,000 Fashion-MNIST
  training images, a 3-epoch recipe stopped after epoch 2 (``stop_after``); evaluated on the full
  10,000-image test set;
* A resumed (``--resume``) to epoch 3;
* run B: the same recipe and seed for 3 epochs without a break.

Fashion-MNIST comes from Debian's ``dataset-fashion-mnist``; without it these tests skip and say so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from resdsl.cli import app  # noqa: E402
from resdsl.training import train  # noqa: E402
from resdsl.training.data import FASHION_MNIST_DIR, FASHION_MNIST_FILES  # noqa: E402
from resdsl.training.options import TrainingError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "cifar" / "resnet20.res")
HAVE_FASHION = all((FASHION_MNIST_DIR / f).is_file() for pair in FASHION_MNIST_FILES.values() for f in pair)
needs_fashion = pytest.mark.skipif(
    not HAVE_FASHION,
    reason=f"Fashion-MNIST is not in {FASHION_MNIST_DIR}: apt-get install dataset-fashion-mnist",
)
# The recipe of runs A and B: short enough for two CPU cores, long enough to learn. Small batches
# (250 steps per epoch) and label smoothing learn fastest here: 79-81% after two epochs over
# three seeds (flips only; crops slow the first epochs down).
RECIPE: dict[str, Any] = dict(
    data="fashion-mnist",
    input="1x28x28",
    epochs=3,
    subset=4000,
    batch_size=16,
    lr=0.025,
    label_smoothing=0.1,
    augment="flip",
    seed=0,
    device="cpu",
    silent=True,
)
runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """One thread: on a busy shared machine two OpenMP threads that spin-wait for each other can
    run ten times slower than one; alone, one thread costs about a third of the speed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not HAVE_FASHION:
        pytest.skip(f"Fashion-MNIST is not in {FASHION_MNIST_DIR}: apt-get install dataset-fashion-mnist")
    base = tmp_path_factory.mktemp("runs")
    a, b = base / "a", base / "b"
    started = time.perf_counter()
    first = train(SPEC, out=a, stop_after=2, **RECIPE)
    after_two = json.loads((a / "metrics.jsonl").read_text().splitlines()[-1])
    resumed = train(
        SPEC, out=a, resume=True, data="fashion-mnist", input="1x28x28", device="cpu", silent=True
    )
    straight = train(SPEC, out=b, **RECIPE)
    return {
        "a": a,
        "b": b,
        "first": first,
        "after_two": after_two,
        "resumed": resumed,
        "straight": straight,
        "seconds": time.perf_counter() - started,
    }


@needs_fashion
def test_resnet20_reaches_75_percent_in_two_epochs(runs: dict[str, Any]) -> None:
    first = runs["first"]
    assert [m["epoch"] for m in first] == [1, 2]
    assert first[-1]["val_acc"] >= 0.75, first
    assert first[-1]["train_acc"] > first[0]["train_acc"] * 0.9
    assert runs["after_two"] == first[-1]


@needs_fashion
def test_resume_continues_to_three_epochs(runs: dict[str, Any]) -> None:
    lines = [json.loads(line) for line in (runs["a"] / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2, 3]
    assert lines[:2] == runs["first"]
    assert lines == runs["resumed"]
    fields = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "img_per_s", "seconds"}
    assert fields <= set(lines[-1])
    for m in lines:
        assert 0.0 <= m["train_acc"] <= 1.0 and 0.0 <= m["val_acc"] <= 1.0
        assert m["img_per_s"] > 0 and m["seconds"] > 0


@needs_fashion
def test_resumed_weights_equal_an_uninterrupted_run(runs: dict[str, Any]) -> None:
    a = torch.load(runs["a"] / "last.pt", weights_only=True)
    b = torch.load(runs["b"] / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for (ka, va), (kb, vb) in zip(
        a["optimizer"]["state"].items(), b["optimizer"]["state"].items(), strict=True
    ):
        assert ka == kb and torch.equal(va["momentum_buffer"], vb["momentum_buffer"])
    strip = ("img_per_s", "seconds", "elapsed")
    assert [{k: v for k, v in m.items() if k not in strip} for m in runs["resumed"]] == [
        {k: v for k, v in m.items() if k not in strip} for m in runs["straight"]
    ]


@needs_fashion
def test_checkpoints_load_safely_into_the_generated_module(runs: dict[str, Any]) -> None:
    import resdsl

    for name in ("last.pt", "best.pt"):
        ckpt = torch.load(runs["a"] / name, map_location="cpu", weights_only=True)
        assert ckpt["format"] == "resdsl-checkpoint"
        net = resdsl.load(SPEC, input="1x28x28")
        net.load_state_dict(ckpt["model"], strict=True)
        assert ckpt["input"] == [1, 28, 28] and ckpt["num_classes"] == 10
    last = torch.load(runs["a"] / "last.pt", weights_only=True)
    assert isinstance(last["rng"]["torch"], torch.Tensor)
    # The 28x28 network: conv1 takes one channel, the classifier sees 64 features.
    assert tuple(last["model"]["conv1.weight"].shape) == (16, 1, 3, 3)
    assert tuple(last["model"]["fc.weight"].shape) == (10, 64)


@needs_fashion
def test_run_folder(runs: dict[str, Any]) -> None:
    a = runs["a"]
    config = json.loads((a / "config.json").read_text())
    assert config["spec_text"] == Path(SPEC).read_text()
    assert config["resdsl"] == __import__("resdsl").__version__
    assert config["options"]["subset"] == 4000 and config["options"]["batch_size"] == 16
    assert config["input"] == "1x28x28" and config["test_images"] == 10000
    # Fashion-MNIST's per-channel statistics on the 0..1 scale are about 0.286 and 0.353.
    assert config["normalize"]["mean"][0] == pytest.approx(0.286, abs=0.01)
    assert config["normalize"]["std"][0] == pytest.approx(0.353, abs=0.01)
    png = (a / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert not list(a.glob(".*.tmp"))


@needs_fashion
def test_eval_reports_the_last_val_acc(runs: dict[str, Any]) -> None:
    last = runs["resumed"][-1]
    args = ["eval", SPEC, "--input", "1x28x28", "--data", "fashion-mnist", "--device", "cpu"]
    result = runner.invoke(app, [*args, "--weights", str(runs["a"] / "last.pt"), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 10000
    assert report["top1"] == last["val_acc"]
    assert report["loss"] == pytest.approx(last["val_loss"], rel=1e-6)
    assert report["top1"] <= report["top5"] <= 1.0
    # A bare state_dict works too (normalised with the training split's statistics).
    bare = runs["a"] / "bare.pt"
    torch.save(torch.load(runs["a"] / "best.pt", weights_only=True)["model"], bare)
    table = runner.invoke(app, [*args, "--weights", str(bare)])
    assert table.exit_code == 0, table.output
    assert "top-1 accuracy" in table.stdout


@needs_fashion
def test_eval_of_weights_that_do_not_fit(runs: dict[str, Any]) -> None:
    result = runner.invoke(
        app,
        [
            "eval",
            SPEC,
            "-D",
            "n=5",
            "--input",
            "1x28x28",
            "--data",
            "fashion-mnist",
            "--weights",
            str(runs["a"] / "best.pt"),
        ],
    )
    assert result.exit_code == 1
    assert "do not fit the network" in result.stderr and "--input 1x28x28" in result.stderr
    assert "Traceback" not in result.output


# --- errors ----------------------------------------------------------------------------------------


def test_missing_dataset_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            SPEC,
            "--input",
            "1x28x28",
            "--data",
            f"fashion-mnist:{tmp_path}",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 1
    assert "Fashion-MNIST not found" in result.stderr
    assert "dataset-fashion-mnist" in result.stderr and "t10k-images-idx3-ubyte.gz" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


@needs_fashion
def test_shape_mismatch_suggests_input(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", SPEC, "--data", "fashion-mnist", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "has 1x28x28 images but `resnet20` takes 3x32x32" in result.stderr
    assert "--input 1x28x28" in result.stderr
    assert "Traceback" not in result.output


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    base = ["train", SPEC, "--input", "1x28x28", "--data", "fashion-mnist", "--out", str(tmp_path)]
    assert runner.invoke(app, [*base, "--schedule", "linear"]).exit_code == 2
    result = runner.invoke(app, [*base, "--augment", "rotate"])
    assert result.exit_code == 2 and "--augment" in result.stderr
    result = runner.invoke(app, [*base, "--resume"])
    assert result.exit_code == 1 and "no `" in result.stderr and "last.pt" in result.stderr
    result = runner.invoke(app, ["train", SPEC, "--data", "svhn", "--input", "1x28x28"])
    assert result.exit_code == 1 and "unknown dataset `svhn`" in result.stderr


@needs_fashion
def test_nan_loss_stops_the_run(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"the training loss became (nan|inf)"):
        train(
            SPEC, out=tmp_path, lr=1e30, schedule="constant", subset=256, val_subset=100, epochs=1, **_quick()
        )
    args = "--data fashion-mnist --input 1x28x28 --lr 1e30 --schedule constant --subset 256 --val-subset 100 --epochs 1"
    result = runner.invoke(app, ["train", SPEC, *args.split(), "--device", "cpu", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "the training loss became" in result.stderr
    assert "Traceback" not in result.output


def _quick() -> dict[str, Any]:
    return {"data": "fashion-mnist", "input": "1x28x28", "device": "cpu", "silent": True}


def test_check_and_summary_stay_torch_free() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from resdsl.cli import app\n"
        f"r = CliRunner().invoke(app, ['summary', {SPEC!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        f"r = CliRunner().invoke(app, ['check', {SPEC!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


# --- processes: kill, Ctrl-C, torchrun --------------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "resdsl", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the run ended before {path.name} appeared: {err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path.name} did not appear in {timeout}s")
        time.sleep(0.05)


SMALL = ["--data", "fashion-mnist", "--input", "1x28x28", "--subset", "1024", "--val-subset", "500"]
SMALL += ["--batch-size", "64", "--device", "cpu", "--quiet"]


@needs_fashion
def test_sigkill_mid_epoch_leaves_a_loadable_last_pt(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cli("train", SPEC, *SMALL, "--epochs", "2", "--save-every", "3", "--out", str(out)),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for(out / "last.pt", proc)
    time.sleep(0.3)  # into the next steps, maybe into a save
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] >= 3 and (ckpt["step"] % 3 == 0 or ckpt["step_in_epoch"] == 0)
    import resdsl

    resdsl.load(SPEC, input="1x28x28").load_state_dict(ckpt["model"])
    # And the run goes on from there.
    done = subprocess.run(
        _cli("train", SPEC, *SMALL, "--resume", "--out", str(out)),
        env=_env(),
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


@needs_fashion
def test_ctrl_c_saves_and_resumes_exactly(tmp_path: Path) -> None:
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    proc = subprocess.Popen(
        _cli("train", SPEC, *SMALL, "--epochs", "2", "--save-every", "1", "--out", str(stopped)),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for(stopped / "last.pt", proc)  # saved after step 1 of 16
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert "saved" in err.decode() and "--resume" in err.decode() and "Traceback" not in err.decode()
    ckpt = torch.load(stopped / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 0 and 0 < ckpt["step_in_epoch"] < 16  # stopped inside epoch 1
    # The rest in subprocesses too: the same thread count, so the same floating-point sums.
    for args in (["--resume", "--out", str(stopped)], ["--epochs", "2", "--out", str(straight)]):
        done = subprocess.run(
            _cli("train", SPEC, *SMALL, *args), env=_env(), capture_output=True, timeout=300
        )
        assert done.returncode == 0, done.stderr.decode()
    resumed = [json.loads(line) for line in (stopped / "metrics.jsonl").read_text().splitlines()]
    uninterrupted = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [m["val_acc"] for m in resumed] == [m["val_acc"] for m in uninterrupted]
    assert [m["train_loss"] for m in resumed] == [m["train_loss"] for m in uninterrupted]
    a = torch.load(stopped / "last.pt", weights_only=True)["model"]
    b = torch.load(straight / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in b)


@needs_fashion
def test_torchrun_two_processes(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone"]
    cmd += ["-m", "resdsl", "train", SPEC, *SMALL, "--subset", "512", "--epochs", "1", "--out", str(out)]
    done = subprocess.run(cmd, env=_env(), capture_output=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert sorted(p.name for p in out.glob("*.pt")) == ["best.pt", "last.pt"]
    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) == 1
    ckpt = torch.load(out / "last.pt", weights_only=True)
    # 512 images in global batches of 64: 8 steps, each process taking 32 images of each.
    assert ckpt["step"] == 8
    assert not any(k.startswith("module.") for k in ckpt["model"])
    assert done.stdout.decode().count("epoch 1/1") == 1  # rank 0 alone prints


def test_docs_name_every_option() -> None:
    import typer.main

    docs = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    command = typer.main.get_command(app)
    for name in ("train", "eval"):
        for param in command.commands[name].params:  # type: ignore[attr-defined]
            longs = [o for o in param.opts if o.startswith("--")]
            if longs and longs[0] not in ("--help", "--define", "--network", "--format", "--weights"):
                assert f"`{longs[0]}" in docs, f"docs/training.md does not mention {longs[0]}"
