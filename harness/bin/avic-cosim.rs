//! avic-cosim command-line tool.
//!
//! `avic-cosim demo [--hw NAME] [--wave FILE.vcd|FILE.fst]`: the bundled default scenario, one
//! guest IPI from vCPU 0 to a running vCPU 1 and one to a not-running vCPU 2, on the Verilated
//! RTL; prints the port transactions, the RTL events and the decoded exit information.

use avic_cosim::apic::{Cause, ExitInfo, Icr, PhysEntry, VmLayout};
use avic_cosim::dut::{Dut, DutEvent};
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::mem::Memory;
use std::process::ExitCode;

const USAGE: &str = "usage: avic-cosim demo [--hw apm|split-irr|in-flight|isrun-first|stale] \
                     [--wave FILE.vcd|FILE.fst]";

struct Args {
    hw: HwConfig,
    hw_name: String,
    wave: Option<String>,
}

/// Named hardware ordering variants (docs/port-contract.md).
fn hw_variant(name: &str) -> Option<HwConfig> {
    let apm = HwConfig {
        atomic_irr: true,
        ..HwConfig::default()
    };
    Some(match name {
        "apm" => apm,
        "split-irr" => HwConfig {
            atomic_irr: false,
            ..apm
        },
        "in-flight" => HwConfig {
            isrun_order: 1,
            ..apm
        },
        "isrun-first" => HwConfig {
            isrun_order: 2,
            ..apm
        },
        "stale" => HwConfig {
            stale_isrun: true,
            ..apm
        },
        _ => return None,
    })
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        hw: hw_variant("apm").expect("apm"),
        hw_name: "apm".into(),
        wave: None,
    };
    match it.next().as_deref() {
        None | Some("demo") => {}
        Some(other) => return Err(format!("unknown command `{other}`")),
    }
    while let Some(a) = it.next() {
        match a.as_str() {
            "--hw" => {
                let v = it.next().ok_or("--hw needs a value")?;
                args.hw = hw_variant(&v).ok_or_else(|| format!("--hw: unknown variant `{v}`"))?;
                args.hw_name = v;
            }
            "--wave" => {
                let v = it.next().ok_or("--wave needs a file name")?;
                if !(v.ends_with(".vcd") || v.ends_with(".fst")) {
                    return Err(format!("--wave {v}: the name must end in .vcd or .fst"));
                }
                args.wave = Some(v);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn demo(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
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
    let mut dut = Dut::new(kind, args.hw, mem)?;
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
        args.hw_name, args.hw
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

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("avic-cosim: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match demo(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("avic-cosim: {e}");
            ExitCode::FAILURE
        }
    }
}
