#!/usr/bin/env bash
# Build times of the crate (`make build-times`): a copy of the working tree (tracked and
# untracked files, not the ignored ones) in a temporary directory with its own target
# directory, so nothing is shared with ./target:
#   cold       cargo build --release, empty target dir (crates already fetched)
#   no-op      cargo build --release again, nothing changed
#   rtl edit   touch rtl/avic_top.sv: build.rs re-verilates and recompiles the models (the
#              Verilator runtime library stays cached)
#   rust edit  touch harness/dut.rs: Rust only
# Set KEEP=1 to keep the copy. Timings are wall clock and include waiting for the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/avic-build-times.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$tmp"
cd "$tmp"
export CARGO_TARGET_DIR="$tmp/target"
$CARGO fetch --quiet

secs() {
  local t0 t1
  t0=$(date +%s%N)
  if ! "$@" >"$tmp/last.log" 2>&1; then
    tail -20 "$tmp/last.log" >&2
    echo "build-times: \`$*\` failed" >&2
    exit 1
  fi
  t1=$(date +%s%N)
  printf '%d.%02d' $(((t1 - t0) / 1000000000)) $((((t1 - t0) / 10000000) % 100))
}

echo "build times in $tmp ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)), $($CARGO --version)"
cold=$(secs "$CARGO" build --release)
noop=$(secs "$CARGO" build --release)
touch rtl/avic_top.sv
rtl=$(secs "$CARGO" build --release)
touch harness/dut.rs
rust=$(secs "$CARGO" build --release)
echo
echo "| build (\`make build-times\`) | seconds |"
echo "|---|---|"
echo "| cold \`cargo build --release\` (crates fetched, empty target dir) | $cold |"
echo "| no-op rebuild | $noop |"
echo "| after touching \`rtl/avic_top.sv\` (re-verilate, recompile the 4 models) | $rtl |"
echo "| after touching \`harness/dut.rs\` (Rust only) | $rust |"
