# SPDX-License-Identifier: MIT OR Apache-2.0
"""cocotb 1.8 testbench of avic_top: the ping-pong stimulus of tb/cpp/avic_tb.cpp and
benches/throughput.rs, with the same 1-cycle-latency memory (tb/cpp/responder.h), for the
cocotb comparison of the benchmarks. Run through run.py; not part of `make test`.

The clock is driven by hand so that a cycle is exactly the C++ testbench's: inputs applied,
clock low, evaluate, clock high, evaluate, outputs read.
"""

import os
import time

import cocotb
from cocotb.triggers import Timer

PHYS_TABLE, LOG_TABLE, BACKING_BASE = 0x1000, 0x2000, 0x10000
EXIT_INFO2 = (1 << 32) | 2
CORES, PORTS = 4, 3
M64 = (1 << 64) - 1


def backing(i):
    return BACKING_BASE + 0x1000 * i


def phys_entry(valid, running, back, host):
    return (valid << 63) | (running << 62) | (back & 0x000FFFFFFFFFF000) | (host & 0xFFF)


def byte_mask(m):
    return sum(0xFF << (8 * b) for b in range(8) if (m >> b) & 1)


@cocotb.test()
async def pingpong(dut):
    n = int(os.environ.get("PINGPONG_CYCLES", "10000"))
    mem = [0] * (backing(8) // 8)
    for i, running in enumerate([1, 1, 0, 1]):
        mem[(PHYS_TABLE + 8 * i) // 8] = phys_entry(1, running, backing(i), i)

    dut.clk_i.value = 0
    dut.rst_ni.value = 0
    dut.cfg_atomic_irr_i.value = 1
    for name in ("cfg_isrun_order_i", "cfg_stale_isrun_i", "cfg_validate_first_i",
                 "cfg_latch_doorbell_i", "vmrun_i", "ldr_cluster_i", "icr_wr_i", "eoi_i",
                 "sw_doorbell_i", "icr_lo_i", "icr_hi_i", "mem_req_ready_i",
                 "mem_rsp_valid_i", "mem_rsp_rdata_i"):
        getattr(dut, name).value = 0
    dut.phys_base_i.value = PHYS_TABLE
    dut.phys_max_idx_i.value = 3
    dut.log_base_i.value = LOG_TABLE
    dut.guest_mode_i.value = 0b0011
    dut.intr_ready_i.value = 0b1111
    dut.self_idx_i.value = 0x03020100
    dut.backing_i.value = sum(backing(c) << (64 * c) for c in range(CORES))

    cyc = 0

    async def cycle():
        nonlocal cyc
        dut.clk_i.value = 0
        await Timer(1, "ns")
        dut.clk_i.value = 1
        await Timer(1, "ns")
        cyc += 1

    await cycle()
    await cycle()
    dut.rst_ni.value = 1

    busy = 0            # ports with a transaction in flight
    flight = [None] * (CORES * PORTS)
    rdata = 0           # mem_rsp_rdata_i as one integer
    k = dict(ipis=0, doorbells=0, exits=0, interrupts=0, drops=0, bad_exits=0)
    to_running = True
    icr_pulse = eoi_pulse = False
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        # The responder (tb/cpp/responder.h).
        valid = dut.mem_req_valid_o.value.integer
        ready = rsp = 0
        todo = busy | valid
        if todo:
            reqs = None
            for i in range(CORES * PORTS):
                if not (todo >> i) & 1:
                    continue
                if (busy >> i) & 1:
                    op, addr, wdata, mask, accepted = flight[i]
                    if cyc >= accepted + 1:
                        w = addr >> 3
                        old = mem[w]
                        if op == 1:
                            m = byte_mask(mask)
                            mem[w] = (old & ~m) | (wdata & m)
                        elif op == 2:
                            mem[w] = old | wdata
                        elif op == 3:
                            mem[w] = old & ~wdata & M64
                        rdata = (rdata & ~(M64 << (64 * i))) | (old << (64 * i))
                        rsp |= 1 << i
                        busy &= ~(1 << i)
                else:
                    if reqs is None:
                        reqs = (dut.mem_req_op_o.value.integer, dut.mem_req_addr_o.value.integer,
                                dut.mem_req_wdata_o.value.integer,
                                dut.mem_req_mask_o.value.integer)
                    op_v, addr_v, wdata_v, mask_v = reqs
                    flight[i] = ((op_v >> (2 * i)) & 3, (addr_v >> (64 * i)) & M64,
                                 (wdata_v >> (64 * i)) & M64, (mask_v >> (8 * i)) & 0xFF, cyc)
                    busy |= 1 << i
                    ready |= 1 << i
            if rsp:
                dut.mem_rsp_rdata_i.value = rdata
        dut.mem_req_ready_i.value = ready
        dut.mem_rsp_valid_i.value = rsp
        await cycle()

        # The stimulus: pulses last one cycle.
        if icr_pulse:
            dut.icr_wr_i.value = 0
            icr_pulse = False
        if eoi_pulse:
            dut.eoi_i.value = 0
            eoi_pulse = False
        ex = dut.exit_valid_o.value.integer
        if ex:
            k["exits"] += bin(ex).count("1")
            info2 = dut.exit_info2_o.value.integer & M64
            if ex != 1 or info2 != EXIT_INFO2:
                k["bad_exits"] += 1
        k["doorbells"] += bin(dut.doorbell_valid_o.value.integer).count("1")
        k["drops"] += bin(dut.db_drop_o.value.integer).count("1")
        iv = dut.intr_valid_o.value.integer
        if iv:
            k["interrupts"] += bin(iv).count("1")
            dut.eoi_i.value = iv
            eoi_pulse = True
        if not dut.busy_o.value.integer & 1:
            dut.icr_lo_i.value = 0x40 if to_running else 0x41
            dut.icr_hi_i.value = (1 if to_running else 2) << 24
            dut.icr_wr_i.value = 1
            icr_pulse = True
            to_running = not to_running
            k["ipis"] += 1
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    line = f"cocotb_result cycles={n} secs={cpu:.6f} wall={wall:.6f} " + " ".join(
        f"{key}={val}" for key, val in k.items())
    with open(os.environ.get("PINGPONG_RESULT", "pingpong_result.txt"), "w") as f:
        f.write(line + "\n")
    assert k["bad_exits"] == 0
