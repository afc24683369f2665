#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Builds avic_top for cocotb 1.8 with Verilator and runs test_pingpong for --cycles cycles;
prints `cocotb_result cycles=N secs=CPU_S wall=S ipis=... doorbells=...` as its last line.
Used by benches/throughput.rs (optional: skipped when no Python with cocotb 1.8 is found).

    python tb/cocotb/run.py --cycles 20000
"""

import argparse
import os
import sys
from pathlib import Path

from cocotb.runner import get_runner

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20000)
    ap.add_argument("--build-dir", default=str(ROOT / "target" / "cocotb"))
    a = ap.parse_args()
    build = Path(a.build_dir)
    lines = [l.strip() for l in (ROOT / "rtl" / "avic.f").read_text().splitlines()
             if l.strip() and not l.startswith("//")]
    srcs = [ROOT / l for l in lines if not l.startswith("+")]
    incs = [ROOT / l[len("+incdir+"):] for l in lines if l.startswith("+incdir+")]
    # Verilator's makefile would compile the model at -Os: ask for -O3 as the other benches do.
    os.environ["MAKEFLAGS"] = f"OPT_FAST=-O3 OPT_GLOBAL=-O3 -j{os.cpu_count() or 1}"
    runner = get_runner("verilator")
    runner.build(
        verilog_sources=srcs,
        hdl_toplevel="avic_top",
        build_dir=build,
        build_args=["-O3", "--x-assign", "fast", "--x-initial", "fast", "--assert",
                    "--timescale", "1ns/1ps", "-Wno-fatal"] + [f"+incdir+{d}" for d in incs],
    )
    result = build / "pingpong_result.txt"
    result.unlink(missing_ok=True)
    runner.test(
        hdl_toplevel="avic_top",
        test_module="test_pingpong",
        build_dir=build,
        extra_env={"PINGPONG_CYCLES": str(a.cycles), "PINGPONG_RESULT": str(result),
                   "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if not result.exists():
        sys.exit("cocotb run produced no result")
    print(result.read_text().strip())


if __name__ == "__main__":
    main()
