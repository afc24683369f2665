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
}

impl Invariant {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::LostIpi => "no-lost-ipi",
            Invariant::DuplicateIpi => "no-duplicate-ipi",
            Invariant::LostWakeup => "no-lost-wakeup",
            Invariant::ExitInfo => "exit-info-protocol",
        }
    }
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
}
