//! The oracles against the wrong answers of issue 13: same-vector sends from several senders
//! (no false duplicate), a receiver stuck in service (a hang is `no-progress`, not a pass), a
//! receiver that does not clear the ISR at EOI (`apic-state`), and a design that pulses an
//! interrupt on a core that runs no vCPU (a port-contract error, not a panic). The bad designs
//! are one-line edits of copies of the bundled RTL, built through the bring-your-own-RTL path.

use avic_cosim::explore::bounded_exhaustive;
use avic_cosim::explore::Search;
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::guest::GuestOp;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::oracle::Invariant;
use avic_cosim::rtl::{Rtl, RtlOptions, UserRtl};
use avic_cosim::scenario::Scenario;
use avic_cosim::scenario::{apm, hw_variants};
use avic_cosim::sched::Schedule;
use avic_cosim::sim::{Verdict, World, WorldError};
use avic_cosim::{apic::Icr, dut::DutError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const V: u8 = 0x40;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// vCPUs 0 and 1 send `V` to vCPU 2, which halts (reschedule-style IPIs from two CPUs).
fn same_vector(variant: KvmVariant, hw: HwConfig) -> Scenario {
    let icr = GuestOp::SendIpi(Icr::fixed_physical(V, 2));
    Scenario::new(3, variant)
        .hw(hw)
        .program(0, &[icr])
        .program(1, &[icr])
        .program(2, &[GuestOp::Halt])
}

#[test]
fn same_vector_sends_hold_on_apm_v4_and_v5_within_the_bound() {
    for variant in [KvmVariant::V4, KvmVariant::V5] {
        let sc = same_vector(variant, apm());
        let r = bounded_exhaustive(&sc, 1, 200_000).unwrap();
        assert!(r.complete, "{variant:?}: search incomplete");
        assert_eq!(r.bounded, 0, "{variant:?}: runs cut at the cycle limit");
        assert!(
            r.violation.is_none(),
            "{variant:?}: {:?}",
            r.violation.and_then(|o| o.violation().cloned())
        );
        // Not vacuous: the default schedule takes both sends as two acceptances.
        let out = World::new(&sc, ModelKind::Plain)
            .unwrap()
            .run(&Schedule::continuing())
            .unwrap();
        assert_eq!(out.verdict, Verdict::Holds);
        assert!(out.ledger.taken(2, V) >= 1);
        assert_eq!(out.ledger.taken(2, V), out.ledger.sent(2, V));
        assert_eq!(out.ledger.sends().len(), 2);
    }
}

#[test]
fn same_vector_sends_stay_violated_where_the_history_says() {
    let find = |sc: &Scenario| {
        let r = Search::default().bound(1).minimize(false).run(sc).unwrap();
        r.violation.and_then(|o| o.violation().cloned())
    };
    let v1 = find(&same_vector(KvmVariant::V1, apm())).expect("V1 re-emulates: a duplicate");
    assert_eq!(
        (v1.invariant, v1.vcpu, v1.vector),
        (Invariant::DuplicateIpi, 2, V)
    );
    for hw in ["in-flight", "isrun-first"] {
        let cfg = hw_variants().into_iter().find(|h| h.0 == hw).unwrap().1;
        let v =
            find(&same_vector(KvmVariant::V4, cfg)).unwrap_or_else(|| panic!("{hw}: no violation"));
        assert_eq!(
            (v.invariant, v.vcpu, v.vector),
            (Invariant::LostWakeup, 2, V),
            "{hw}: {v}"
        );
    }
}

/// A copy of the bundled RTL with `edits` (exact text, each found once) applied, built through
/// the bring-your-own-RTL path into the tests' cache.
fn mutant(name: &str, edits: &[(&str, &str, &str)]) -> (Arc<UserRtl>, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oracle-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let list = std::fs::read_to_string(repo("rtl/avic.f")).unwrap();
    let mut f = String::new();
    for line in list
        .lines()
        .filter(|l| !l.starts_with("//") && !l.is_empty())
    {
        if let Some(inc) = line.strip_prefix("+incdir+") {
            // The headers (rtl/*.svh) beside the copies.
            for e in std::fs::read_dir(repo(inc)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "svh") {
                    std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
                }
            }
            f.push_str("+incdir+.\n");
            continue;
        }
        let file = Path::new(line).file_name().unwrap().to_str().unwrap();
        let mut text = std::fs::read_to_string(repo(line)).unwrap();
        for (target, from, to) in edits {
            if *target == file {
                assert_eq!(text.matches(from).count(), 1, "{file}: {from}");
                text = text.replace(from, to);
            }
        }
        std::fs::write(dir.join(file), text).unwrap();
        f.push_str(file);
        f.push('\n');
    }
    let fl = dir.join("avic.f");
    std::fs::write(&fl, f).unwrap();
    let opts = RtlOptions {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracle-cache")),
    };
    (UserRtl::from_filelist(&fl, "avic_top", &opts).unwrap(), fl)
}

#[test]
fn a_receiver_stuck_in_service_is_no_progress_with_the_stuck_state() {
    let (rtl, _) = mutant(
        "stuck",
        &[(
            "avic_irq_eval.sv",
            "          insvc_d = 1'b0;\n          eval_d  = guest_mode_i;",
            "          insvc_d = 1'b1;\n          eval_d  = guest_mode_i;",
        )],
    );
    let sc = Scenario::seed(KvmVariant::V4, apm()).rtl(Rtl::User(rtl));
    let out = World::new(&sc, ModelKind::Plain)
        .unwrap()
        .run(&Schedule::continuing())
        .unwrap();
    let v = out.violation().expect("a hang is a violation");
    assert_eq!((v.invariant, v.vcpu), (Invariant::NoProgress, 1), "{v}");
    assert_eq!(v.cycle, sc.max_cycles + 2, "{v}");
    assert!(
        v.detail.contains("core 1") && v.detail.contains("in_service 1"),
        "names the stuck receiver: {v}"
    );
    // The bundled design in the same schedule reaches quiescence.
    let ok = World::new(&Scenario::seed(KvmVariant::V4, apm()), ModelKind::Plain)
        .unwrap()
        .run(&Schedule::continuing())
        .unwrap();
    assert_eq!(ok.verdict, Verdict::Holds);
}

#[test]
fn a_receiver_that_keeps_the_isr_bit_after_eoi_breaks_apic_state() {
    let (rtl, _) = mutant(
        "keep-isr",
        &[(
            "avic_irq_eval.sv",
            "        req_op_o    = avic_pkg::MemLockClr;\n        req_addr_o  = backing_i | 64'(avic_pkg::OffIsr) | vec_off;",
            "        req_op_o    = avic_pkg::MemRead;\n        req_addr_o  = backing_i | 64'(avic_pkg::OffIsr) | vec_off;",
        )],
    );
    let sc = Scenario::seed(KvmVariant::V4, apm()).rtl(Rtl::User(rtl));
    let out = World::new(&sc, ModelKind::Plain)
        .unwrap()
        .run(&Schedule::continuing())
        .unwrap();
    let v = out.violation().expect("the ISR keeps an EOI'd vector");
    assert_eq!((v.invariant, v.vcpu), (Invariant::ApicState, 1), "{v}");
    assert!(v.detail.contains("ISR holds"), "{v}");
}

#[test]
fn an_interrupt_on_a_core_without_a_vcpu_is_a_port_contract_error() {
    let (rtl, fl) = mutant(
        "idle-intr",
        &[
            (
                "avic_top.sv",
                "  logic [NumCores-1:0] doorbell_in;\n",
                "  logic [NumCores-1:0] doorbell_in;\n  logic [NumCores-1:0] intr_core;\n  \
                 assign intr_valid_o = intr_core | (intr_core[1] ? ~NumCores'(3) : '0);\n",
            ),
            (
                "avic_top.sv",
                ".intr_valid_o        (intr_valid_o[c]),",
                ".intr_valid_o        (intr_core[c]),",
            ),
        ],
    );
    let sc = Scenario::seed(KvmVariant::V4, apm()).rtl(Rtl::User(rtl));
    let err = World::new(&sc, ModelKind::Plain)
        .unwrap()
        .run(&Schedule::continuing())
        .expect_err("the harness refuses the output");
    let WorldError::Dut(DutError::Contract {
        core,
        signal,
        cycle,
        ..
    }) = &err
    else {
        panic!("not a contract error: {err}");
    };
    assert_eq!((*core, *signal), (2, "intr_valid_o"), "{err}");
    assert!(*cycle > 0);
    // The command line: exit 4 and the message, no panic.
    let out = Command::new(env!("CARGO_BIN_EXE_avic-cosim"))
        .args(["run", "--hw", "apm", "--kvm", "V4", "--rtl"])
        .arg(&fl)
        .args(["--top", "avic_top"])
        .env(
            "AVIC_COSIM_CACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracle-cache"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("port contract") && stderr.contains("core 2: intr_valid_o"),
        "{stderr}"
    );
}
