//! The doorbell-target invariant (avic-protocol.md §6, A3): a doorbell for vCPU T goes to the
//! core where T runs in guest mode; when T runs in guest mode on another core, T must have run
//! VMRUN or scanned its vIRR since the IRR write the doorbell announces, or do so later.
//! Judged at quiescence, before the lost IPI it explains.

use super::{Invariant, Obs, Oracle, View, Violation};

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
    open: [Option<Misdirected>; crate::dut::MAX_CORES],
    rescan: [Option<u64>; crate::dut::MAX_CORES],
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

impl Oracle for DoorbellWatch {
    fn observe(&mut self, ev: &Obs) -> Option<Violation> {
        match *ev {
            Obs::Rescan { cycle, vcpu } => self.rescanned(vcpu, cycle),
            Obs::Doorbell {
                target,
                runs_on,
                doorbell,
            } => self.rung(target, runs_on, doorbell),
            _ => {}
        }
        None
    }

    fn at_quiescence(&self, _: &dyn View, cycle: u64) -> Option<Violation> {
        self.unresolved(cycle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
