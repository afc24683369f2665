//! `avic-cosim demo`: two guest IPIs on the RTL, with the port transactions, RTL events and
//! decoded exit information.

use crate::args::parse_wave;
use avic_cosim::apic::{Cause, ExitInfo, Icr, PhysEntry, VmLayout};
use avic_cosim::dut::{Dut, DutEvent};
use avic_cosim::ffi::ModelKind;
use avic_cosim::mem::Memory;
use avic_cosim::report::{self, HwVariant};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Hardware variant: apm, split-irr, in-flight, isrun-first, stale, per-dest,
    /// latch-doorbell.
    #[arg(long, value_name = "NAME", default_value = "apm", value_parser = crate::args::parse_hw)]
    hw: HwVariant,
    /// Write a waveform (.vcd or .fst).
    #[arg(long, value_name = "FILE.vcd|FILE.fst", value_parser = parse_wave)]
    wave: Option<String>,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            hw: report::hw_variants()[0],
            wave: None,
        }
    }
}

fn demo(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let l = VmLayout::default();
    let mut mem = Memory::new(l.mem_size(4), 4);
    for id in 0..4u8 {
        let running = id != 2;
        let e = PhysEntry {
            valid: true,
            is_running: running,
            backing: l.backing(id),
            host_id: id.into(),
        };
        mem.poke(l.phys_entry(id), e.encode())?;
    }
    let kind = match args.wave.as_deref() {
        Some(w) if w.ends_with(".fst") => ModelKind::Fst,
        Some(_) => ModelKind::Vcd,
        None => ModelKind::Plain,
    };
    let mut dut = Dut::new(kind, args.hw.cfg, mem)?;
    if let Some(w) = &args.wave {
        dut.open_trace(w)?;
    }
    dut.inp.phys_base = l.phys_table;
    dut.inp.phys_max_idx = 3;
    dut.inp.log_base = l.log_table;
    for c in 0..4 {
        let ci = dut.core(c);
        ci.backing = l.backing(c as u8);
        ci.self_idx = c as u8;
        ci.guest_mode = c != 2;
        ci.intr_ready = true;
    }
    println!(
        "avic-cosim demo: hardware variant `{}` ({:?})",
        args.hw.name, args.hw.cfg
    );
    println!("vCPU i runs on core i (host APIC ID i); vCPU 2 is not running\n");
    for (vector, dest) in [(0x41u8, 1u8), (0x42, 2)] {
        let icr = Icr::fixed_physical(vector, dest);
        println!(
            "guest on core 0 writes ICR = {:#010x}:{:#010x} (vector {vector:#x} -> APIC ID {dest})",
            icr.hi(),
            icr.lo()
        );
        dut.clear_logs();
        dut.write_icr(0, icr.lo(), icr.hi());
        dut.run_until_quiet(1000)?;
        dut.run(4)?;
        for t in dut.txns() {
            println!("  {t}");
        }
        for e in dut.events() {
            match *e {
                DutEvent::Exit {
                    cycle,
                    code,
                    info1,
                    info2,
                    ..
                } => {
                    let x = ExitInfo::decode(info1, info2);
                    let cause = x.cause().map(Cause::linux_name).unwrap_or("unknown");
                    println!(
                        "  cycle {cycle:4}  #VMEXIT {code:#x}  EXITINFO1={info1:#018x} EXITINFO2={info2:#018x}  ({cause}, index {})",
                        x.index
                    );
                }
                DutEvent::Doorbell {
                    cycle,
                    core,
                    host_id,
                } => {
                    println!("  cycle {cycle:4}  core {core} rings the doorbell of host APIC ID {host_id}")
                }
                DutEvent::DoorbellDropped { cycle, core } => {
                    println!("  cycle {cycle:4}  core {core} drops a doorbell (host mode)")
                }
                DutEvent::Interrupt {
                    cycle,
                    core,
                    vector,
                } => {
                    println!("  cycle {cycle:4}  guest on core {core} takes vector {vector:#x}")
                }
            }
        }
        println!();
    }
    if let Some(w) = &args.wave {
        dut.close_trace();
        println!("waveform: {w}");
    }
    Ok(())
}

/// Runs the demo: exit 0, or 1 when the simulation fails.
pub fn run(a: DemoArgs) -> ExitCode {
    match demo(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("avic-cosim: {e}");
            ExitCode::FAILURE
        }
    }
}
