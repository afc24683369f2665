//! The invariants a run is checked against (architecture.md, "Invariants").
//!
//! - **No duplicate IPI**: a vCPU takes a vector no more often than it was sent to it. Checked
//!   at every acceptance (IRR to ISR), so the violation names the cycle of the extra one.
//! - **Exit-info protocol**: EXITINFO1 of #VMEXIT 0x401 is the ICR the guest wrote and
//!   EXITINFO2 carries a defined cause (APM Table 15-27). Checked at every exit.
//! - **No lost wake-up**: at quiescence no vCPU sleeps in `schedule()` while its IRR holds a
//!   vector: nothing is left that would wake it.
//! - **No lost IPI**: at quiescence every vector sent to a vCPU was taken by its guest. Sends
//!   are counted at the guest's ICR write; a send of a vector that an earlier send to the same
//!   vCPU still has pending (sent, not yet taken) merges with it, as one IRR bit allows.
//! - **Doorbell target** (avic-protocol.md §6, A3): a doorbell for vCPU T goes to the core
//!   where T runs in guest mode; when T runs in guest mode on another core, T must have run
//!   VMRUN or scanned its vIRR since the IRR write the doorbell announces, or do so later.
//!   Checked at quiescence ([`DoorbellWatch`]), before the lost IPI it explains.

use std::fmt;

/// Which invariant a run broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// A sent vector was never taken.
    LostIpi,
    /// A vector was taken more often than sent.
    DuplicateIpi,
    /// A vCPU sleeps with a pending IRR bit and nothing left to wake it.
    LostWakeup,
    /// #VMEXIT information does not match the APM encoding.
    ExitInfo,
    /// A doorbell went to a core other than the one running its target in guest mode, and
    /// the target never re-scanned its vIRR.
    DoorbellTarget,
}

impl Invariant {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::LostIpi => "no-lost-ipi",
            Invariant::DuplicateIpi => "no-duplicate-ipi",
            Invariant::LostWakeup => "no-lost-wakeup",
            Invariant::ExitInfo => "exit-info-protocol",
            Invariant::DoorbellTarget => "doorbell-target",
        }
    }

    /// Every invariant, in report order.
    pub const ALL: [Invariant; 5] = [
        Invariant::LostIpi,
        Invariant::DuplicateIpi,
        Invariant::LostWakeup,
        Invariant::ExitInfo,
        Invariant::DoorbellTarget,
    ];
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken invariant with where and whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant.
    pub invariant: Invariant,
    /// Cycle at which it was detected.
    pub cycle: u64,
    /// The vCPU concerned.
    pub vcpu: u8,
    /// The vector concerned (0 when none).
    pub vector: u8,
    /// One sentence for the report.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at cycle {}: vCPU {}, vector {:#04x}: {}",
            self.invariant, self.cycle, self.vcpu, self.vector, self.detail
        )
    }
}

/// Per vCPU and vector: how often it was sent and taken.
#[derive(Clone, Debug)]
pub struct Ledger {
    sent: Vec<[u16; 256]>,
    taken: Vec<[u16; 256]>,
}

impl Ledger {
    /// An empty ledger for `n` vCPUs.
    pub fn new(n: usize) -> Self {
        Ledger {
            sent: vec![[0; 256]; n],
            taken: vec![[0; 256]; n],
        }
    }

    /// The guest sent `vector` to `vcpu`. Returns true when it merges with an earlier send
    /// still pending (sent, not taken): one IRR bit holds both, so it is counted once.
    pub fn send(&mut self, vcpu: u8, vector: u8) -> bool {
        let (v, x) = (usize::from(vcpu), usize::from(vector));
        let merged = self.sent[v][x] > self.taken[v][x];
        if !merged {
            self.sent[v][x] += 1;
        }
        merged
    }

    /// Counts an acceptance; a violation if the vCPU took the vector more often than sent.
    pub fn take(&mut self, cycle: u64, vcpu: u8, vector: u8) -> Option<Violation> {
        let (v, x) = (usize::from(vcpu), usize::from(vector));
        self.taken[v][x] += 1;
        (self.taken[v][x] > self.sent[v][x]).then(|| Violation {
            invariant: Invariant::DuplicateIpi,
            cycle,
            vcpu,
            vector,
            detail: format!(
                "taken {} times, sent {} times (an acceptance with no send left to match)",
                self.taken[v][x], self.sent[v][x]
            ),
        })
    }

    /// The first (vCPU, vector) sent more often than taken, with both counts.
    pub fn first_missing(&self) -> Option<(u8, u8, u16, u16)> {
        for (v, (s, t)) in self.sent.iter().zip(&self.taken).enumerate() {
            for x in 0..256 {
                if s[x] > t[x] {
                    return Some((v as u8, x as u8, s[x], t[x]));
                }
            }
        }
        None
    }

    /// Times `vector` was taken by `vcpu`.
    pub fn taken(&self, vcpu: u8, vector: u8) -> u16 {
        self.taken[usize::from(vcpu)][usize::from(vector)]
    }

    /// Times `vector` was sent to `vcpu` (merged sends count once).
    pub fn sent(&self, vcpu: u8, vector: u8) -> u16 {
        self.sent[usize::from(vcpu)][usize::from(vector)]
    }
}

/// A doorbell rung for a vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Doorbell {
    /// Cycle the doorbell was rung.
    pub cycle: u64,
    /// Host APIC ID it went to.
    pub host_id: u16,
    /// Cycle of the IRR write the doorbell announces.
    pub irr_cycle: u64,
    /// Vector of that write (0 when unknown).
    pub vector: u8,
    /// Whether the sender was the hardware (else KVM's software delivery).
    pub hardware: bool,
}

/// A doorbell that reached the wrong core while its target ran in guest mode on `runs_on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Misdirected {
    doorbell: Doorbell,
    runs_on: u8,
}

/// The doorbell-target invariant, per vCPU: the first misdirected doorbell not yet made
/// good by a VMRUN or vIRR scan of its target. Fixed size: the cycle loop allocates nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct DoorbellWatch {
    open: [Option<Misdirected>; crate::dut::NUM_CORES],
    rescan: [Option<u64>; crate::dut::NUM_CORES],
}

impl DoorbellWatch {
    /// vCPU `vcpu` ran VMRUN or scanned its vIRR at `cycle`: a doorbell whose IRR write came
    /// no later is made good.
    pub fn rescanned(&mut self, vcpu: u8, cycle: u64) {
        let v = usize::from(vcpu);
        self.rescan[v] = Some(cycle);
        if self.open[v].is_some_and(|m| m.doorbell.irr_cycle <= cycle) {
            self.open[v] = None;
        }
    }

    /// A doorbell for `vcpu` went to `host_id`. `runs_on` is the core where `vcpu` runs in
    /// guest mode, if it does. Only a target in guest mode on another core that has not
    /// re-scanned since `irr_cycle` is recorded: a target in host mode will VMRUN or check
    /// its vIRR before it sleeps (the lost wake-up invariant covers the rest).
    pub fn rung(&mut self, vcpu: u8, runs_on: Option<u8>, d: Doorbell) {
        let v = usize::from(vcpu);
        let Some(core) = runs_on else { return };
        if u16::from(core) == d.host_id || self.rescan[v].is_some_and(|r| r >= d.irr_cycle) {
            return;
        }
        self.open[v].get_or_insert(Misdirected {
            doorbell: d,
            runs_on: core,
        });
    }

    /// The first doorbell still misdirected, as a violation detected at `cycle`.
    pub fn unresolved(&self, cycle: u64) -> Option<Violation> {
        self.open.iter().enumerate().find_map(|(v, m)| {
            m.map(
                |Misdirected {
                     doorbell: d,
                     runs_on,
                 }| Violation {
                    invariant: Invariant::DoorbellTarget,
                    cycle,
                    vcpu: v as u8,
                    vector: d.vector,
                    detail: format!(
                        "{} doorbell at cycle {} went to host {} while vCPU {v} ran in guest mode \
                     on core {}; no VMRUN or vIRR scan since its IRR write at cycle {}",
                        if d.hardware {
                            "the hardware's"
                        } else {
                            "KVM's"
                        },
                        d.cycle,
                        d.host_id,
                        runs_on,
                        d.irr_cycle
                    ),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_flags_the_extra_acceptance_and_the_missing_one() {
        let mut l = Ledger::new(2);
        assert!(!l.send(1, 0x40));
        assert!(l.send(1, 0x40), "still pending: merges with the first");
        assert_eq!(l.take(10, 1, 0x40), None);
        let v = l
            .take(20, 1, 0x40)
            .expect("second acceptance is a duplicate");
        assert_eq!(
            (v.invariant, v.cycle, v.vcpu, v.vector),
            (Invariant::DuplicateIpi, 20, 1, 0x40)
        );
        assert!(!l.send(0, 0x41));
        assert_eq!(l.first_missing(), Some((0, 0x41, 1, 0)));
    }

    fn db(cycle: u64, host_id: u16, irr_cycle: u64) -> Doorbell {
        Doorbell {
            cycle,
            host_id,
            irr_cycle,
            vector: 0x40,
            hardware: true,
        }
    }

    #[test]
    fn doorbell_watch_flags_only_a_target_in_guest_elsewhere_that_never_rescans() {
        let mut w = DoorbellWatch::default();
        // To the core the target runs on, or while it is in host mode: fine.
        w.rung(1, Some(2), db(10, 2, 9));
        w.rung(1, None, db(11, 1, 9));
        assert_eq!(w.unresolved(50), None);
        // In guest on core 2, doorbell to host 1, no VMRUN since the IRR write at 30.
        w.rescanned(1, 20);
        w.rung(1, Some(2), db(31, 1, 30));
        let v = w.unresolved(60).expect("misdirected");
        assert_eq!(
            (v.invariant, v.cycle, v.vcpu),
            (Invariant::DoorbellTarget, 60, 1)
        );
        assert!(v.detail.contains("cycle 31 went to host 1") && v.detail.contains("core 2"));
        // A later VMRUN scans the vIRR: made good.
        w.rescanned(1, 40);
        assert_eq!(w.unresolved(60), None);
        // A VMRUN after the IRR write but before the doorbell already saw the bit.
        w.rescanned(0, 31);
        w.rung(0, Some(3), db(45, 0, 30));
        assert_eq!(w.unresolved(60), None);
        w.rung(0, Some(3), db(46, 0, 35));
        assert!(w.unresolved(60).is_some());
    }
}
