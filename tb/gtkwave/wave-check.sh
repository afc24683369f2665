#!/usr/bin/env bash
# make wave-check: writes the C1 lost wake-up waveform with its .gtkw, opens them in the real
# GTKWave under a virtual X server, fails on any GTKWave error or failed check
# (tb/gtkwave/check.tcl), and saves a screenshot.
#
#   WAVE_OUT  output directory (target/wave)      WAVE_PNG  screenshot (docs/wave-c1.png)
#
# Xvfb, then `gtkwave -S`, then ImageMagick `import`, each started here and stopped by PID
# (xvfb-run with a Tcl `after` callback hangs: ../shared/spec/verilator-notes.md, section 6).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${WAVE_OUT:-target/wave}
PNG=${WAVE_PNG:-docs/wave-c1.png}
BIN=${WAVE_BIN:-target/release/examples/wave_c1}
LOG="$OUT/gtkwave.log"
ERR="$OUT/gtkwave.err"
XPID= GPID=
cleanup() {
  [ -n "$GPID" ] && kill "$GPID" 2>/dev/null
  [ -n "$XPID" ] && kill "$XPID" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT
fail() { echo "wave-check: FAIL: $*" >&2; exit 1; }

mkdir -p "$OUT" "$(dirname "$PNG")"
rm -f "$OUT"/c1.* "$LOG" "$ERR"
timeout 300 "$BIN" "$OUT/c1.vcd" || fail "writing the C1 waveform"
for f in c1.vcd c1.gtkw; do [ -s "$OUT/$f" ] || fail "$OUT/$f missing"; done

# A free display number.
DNUM=
for n in $(seq 90 130); do
  if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then DNUM=$n; break; fi
done
[ -n "$DNUM" ] || fail "no free X display number"
Xvfb ":$DNUM" -screen 0 1600x1000x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
XPID=$!
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$DNUM" ] && break; sleep 0.1; done
[ -e "/tmp/.X11-unix/X$DNUM" ] || fail "Xvfb :$DNUM did not start ($(cat "$OUT/xvfb.log"))"

# At the violation the target sleeps with 0x40 in its IRR, its last step is the sleep in
# schedule(), and the invariant lane names the lost wake-up.
export WAVE_GTKW="$OUT/c1.gtkw"
export WAVE_EXPECT='
  {schedule/violation*} VIOLATED:no-lost-wakeup
  {vCPU 1 */sleeping} 1
  {vCPU 1 */irr\[*} 40
  {vCPU 1 */kvm_step*} schedule:sleeping
  {vCPU 1 */mode*} OUTSIDE_GUEST_MODE
  {vCPU 1 */isrun_global} 0
  {vCPU 1 */RTL core 1/eval_state_q} StIdle
  {vCPU 0 */RTL core 0/sender_state_q} StIdle
'
DISPLAY=":$DNUM" timeout 120 gtkwave -S tb/gtkwave/check.tcl "$OUT/c1.gtkw" >"$LOG" 2>"$ERR" &
GPID=$!
for _ in $(seq 600); do
  grep -q '^WAVE-CHECK \(OK\|FAIL\)' "$LOG" 2>/dev/null && break
  kill -0 "$GPID" 2>/dev/null || break
  sleep 0.1
done
grep -q '^WAVE-CHECK \(OK\|FAIL\)' "$LOG" || fail "gtkwave did not run the check ($(cat "$ERR"))"
sleep 2 # let it draw
DISPLAY=":$DNUM" timeout 30 import -window root "$PNG" || fail "screenshot"
kill "$GPID" 2>/dev/null; wait "$GPID" 2>/dev/null; GPID=
kill "$XPID" 2>/dev/null; wait "$XPID" 2>/dev/null; XPID=

grep '^WAVE-CHECK \(FAIL\|MARKER\)' "$LOG"
if grep -Eiv '^(GTKWave Analyzer v|GTKWAVE \| Executing Tcl script|\[[0-9]+\] (start|end) time\.|FSTLOAD \| |$)' "$ERR"; then
  fail "gtkwave wrote the lines above to stderr"
fi
grep -q '^WAVE-CHECK FAIL' "$LOG" && fail "GTKWave shows something else than expected ($LOG)"
grep -q '^WAVE-CHECK OK' "$LOG" || fail "no verdict from the check script"
[ -s "$PNG" ] || fail "$PNG is empty"
echo "wave-check: OK: $(grep -c '^WAVE-CHECK TRACE' "$LOG") traces checked in GTKWave; screenshot $PNG"
