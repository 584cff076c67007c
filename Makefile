# resdsl: `make demo` and `make test` each create or refresh .venv and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

# Where this machine has the CPU build of torch on disk, pin to it, so that pip does not pull
# a multi-GB CUDA build. Elsewhere the normal requirement (torch>=2.2) applies.
CPU_TORCH := $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl)
ifneq ($(CPU_TORCH),)
CONSTRAINTS := -c ci/constraints-cpu.txt
endif

FASHION := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

.PHONY: venv data demo test lint bench fuzz degradation golden gpu-check clean

$(VENV)/.installed: pyproject.toml ci/constraints-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(CONSTRAINTS) -e '.[torch,onnx,dev]'
	touch $@

venv: $(VENV)/.installed

# Real data for the training tests: Debian's dataset-fashion-mnist (only when root can install it).
data:
	@if [ ! -f $(FASHION) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1)) \
		&& echo "installed dataset-fashion-mnist" || echo "could not install dataset-fashion-mnist"; \
	fi

test: venv data
	$(BIN)/ruff check resdsl tests benchmarks experiments
	$(BIN)/ruff format --check resdsl tests benchmarks experiments
	$(BIN)/pytest -q -m "not gpu and not fuzz" -p no:cacheprovider

demo: venv data
	$(BIN)/resdsl check specs/
	$(BIN)/resdsl summary specs/resnet50.res --format markdown | head -n 3
	$(BIN)/resdsl summary specs/resnet50.res -D stride_at=1x1 --format markdown | head -n 3
	mkdir -p build
	$(BIN)/resdsl compile specs/resnet50.res --target torch -o build/resnet50.py
	$(BIN)/resdsl compile specs/resnet50.res --target onnx --fold-bn -o build/resnet50.onnx
	$(BIN)/resdsl train specs/cifar/resnet20.res --data fashion-mnist --input 1x28x28 \
		--epochs 2 --subset 8000 --out build/demo-run --quiet
	$(BIN)/resdsl eval specs/cifar/resnet20.res --input 1x28x28 --weights build/demo-run/best.pt --data fashion-mnist

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check resdsl tests benchmarks experiments

golden: venv
	$(PY) tests/regenerate_golden.py

# The competitors (torchvision) need their own venv: torchvision does not import beside the CPU
# torch of .venv. This one is large (a CUDA build of torch 2.14.1); it is only for benchmarks.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1 \
		onnx onnxruntime onnxscript numpy lark jinja2 typer rich
	touch $@

bench: venv $(BENCH_VENV)/.installed
	BENCH_PYTHON=$(BENCH_VENV)/bin/python $(PY) benchmarks/run_all.py

fuzz: venv
	$(PY) -m fuzz.run --cases 100000

degradation: venv data
	$(PY) experiments/degradation/run.py --quick

# On a machine with a GPU (see benchmarks/gpu_check.sh for what it needs there).
gpu-check:
	benchmarks/gpu_check.sh

clean:
	rm -rf build dist .pytest_cache
