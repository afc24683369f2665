//! IPI accounting by send: the no-lost-IPI and no-duplicate-IPI invariants
//! (architecture.md, Invariants).
//!
//! A *send* is a guest ICR write of a Fixed, edge-triggered vector >= 16, one per target in
//! the set the ICR decodes to (a lowest-priority ICR is one send whose target is one vCPU of
//! the set), or a timer fire. Every IRR posting of the send's vector, by whatever path (the
//! hardware's locked set or its split read-then-write, KVM's `kvm_lapic_set_irr`, the timer,
//! re-emulation), is attributed to the send that caused it, when it becomes visible in global
//! memory. The *first* visible posting of a send decides:
//!
//! - the vector's bit was clear: the send is *unmerged*, it owes one acceptance;
//! - the bit was already set (and not yet accepted): the send *merges* with the earlier one,
//!   one IRR bit holds both and one acceptance serves both.
//!
//! Later postings of the same send (V1's re-emulation after the hardware already posted)
//! owe nothing. Then:
//!
//! - **duplicate**: a target accepts (IRR to ISR) a vector more often than it had unmerged
//!   sends of it; or a vector's bit turns on with no send to attribute it to (a stale
//!   write-back of the split update resurrecting an accepted vector), judged when it turns on;
//! - **lost**: at quiescence a send was never posted, or an unmerged send was never accepted.
//!
//! Deciding merges at the IRR and not at the ICR write matters: two vCPUs sending the same
//! vector to one target (what Linux does with reschedule and call-function IPIs) are two
//! sends and two acceptances when the second is posted after the first was taken.

use super::{Invariant, Obs, Oracle, View, Violation};
use crate::mem::Agent;

/// The sender of a timer fire (no vCPU sends it).
pub const TIMER_SENDER: u8 = 0xFE;

/// How far a send has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendState {
    /// No posting of it is visible yet.
    Unposted,
    /// Its first posting turned the bit on, at this cycle: it owes one acceptance.
    Unmerged(u64),
    /// Its first posting found the bit set, at this cycle: an earlier send's acceptance
    /// serves it.
    Merged(u64),
}

/// One send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Send {
    /// vCPU whose guest wrote the ICR, or [`TIMER_SENDER`].
    pub sender: u8,
    /// The ICR as written (high:low), 0 for a timer.
    pub icr: u64,
    /// The vector.
    pub vector: u8,
    /// The vCPUs it may be delivered to (bit per vCPU): one for a fixed send, the set of a
    /// lowest-priority one.
    pub candidates: u8,
    /// The vCPU its first posting went to (meaningful once posted).
    pub target: u8,
    /// Cycle of the ICR write or timer fire.
    pub cycle: u64,
    /// How far it has got.
    pub state: SendState,
}

/// Sends, postings and acceptances per vCPU and vector.
#[derive(Clone, Debug)]
pub struct Ledger {
    /// Every send so far, in order (reserved at construction: recording allocates nothing
    /// within [`Ledger::with_capacity`]'s count).
    sends: Vec<Send>,
    /// Unmerged sends per target and vector.
    unmerged: Vec<[u16; 256]>,
    /// Acceptances per target and vector.
    taken: Vec<[u16; 256]>,
    /// Sends to keep room for.
    room: usize,
}

impl Ledger {
    /// An empty ledger for `n` vCPUs.
    pub fn new(n: usize) -> Self {
        Self::with_capacity(n, 0)
    }

    /// An empty ledger for `n` vCPUs with room for `sends` sends.
    pub fn with_capacity(n: usize, sends: usize) -> Self {
        Ledger {
            sends: Vec::with_capacity(sends),
            unmerged: vec![[0; 256]; n],
            taken: vec![[0; 256]; n],
            room: sends,
        }
    }

    /// Reserves room for the sends still to come: the run that follows allocates nothing.
    pub fn reserve(&mut self) {
        self.sends
            .reserve(self.room.saturating_sub(self.sends.len()));
    }

    /// The sends so far, in order.
    pub fn sends(&self) -> &[Send] {
        &self.sends
    }

    /// Times `vector` was taken by `vcpu`.
    pub fn taken(&self, vcpu: u8, vector: u8) -> u16 {
        self.taken[usize::from(vcpu)][usize::from(vector)]
    }

    /// Unmerged sends of `vector` to `vcpu` (a merged send counts with the one it joined).
    pub fn sent(&self, vcpu: u8, vector: u8) -> u16 {
        self.unmerged[usize::from(vcpu)][usize::from(vector)]
    }

    /// The first (vCPU, vector) with more unmerged sends than acceptances, with both counts.
    pub fn first_missing(&self) -> Option<(u8, u8, u16, u16)> {
        for (v, (s, t)) in self.unmerged.iter().zip(&self.taken).enumerate() {
            for x in 0..256 {
                if s[x] > t[x] {
                    return Some((v as u8, x as u8, s[x], t[x]));
                }
            }
        }
        None
    }

    /// Records a send.
    pub fn send(&mut self, cycle: u64, sender: u8, icr: u64, vector: u8, candidates: u8) {
        self.sends.push(Send {
            sender,
            icr,
            vector,
            candidates,
            target: 0,
            cycle,
            state: SendState::Unposted,
        });
    }

    /// A posting of `vector` to `target` became visible at `cycle`; `sender` is the vCPU (or
    /// [`TIMER_SENDER`]) whose send it carries, `None` when the writer cannot tell; `was_set`
    /// says whether the bit was set before. A duplicate when the bit turns on and no send
    /// can own it.
    pub fn posted(
        &mut self,
        cycle: u64,
        target: u8,
        vector: u8,
        sender: Option<u8>,
        was_set: bool,
        by: Agent,
    ) -> Option<Violation> {
        let owner = self.sends.iter_mut().find(|s| {
            s.state == SendState::Unposted
                && s.vector == vector
                && s.candidates & (1 << target) != 0
                && sender.is_none_or(|x| x == s.sender)
        });
        if let Some(s) = owner {
            s.target = target;
            s.state = if was_set {
                SendState::Merged(cycle)
            } else {
                self.unmerged[usize::from(target)][usize::from(vector)] += 1;
                SendState::Unmerged(cycle)
            };
            return None;
        }
        // A later posting of a send already posted (re-emulation) owes nothing here; if it
        // turns the bit on again, the extra acceptance it causes is the duplicate.
        let reposted = sender.is_some_and(|x| {
            self.sends.iter().any(|s| {
                s.sender == x
                    && s.vector == vector
                    && s.state != SendState::Unposted
                    && s.target == target
            })
        });
        (!was_set && !reposted).then(|| spurious(cycle, target, vector, by))
    }

    /// Counts an acceptance; a duplicate if the vCPU took the vector more often than it had
    /// unmerged sends of it.
    pub fn take(&mut self, cycle: u64, vcpu: u8, vector: u8) -> Option<Violation> {
        let (v, x) = (usize::from(vcpu), usize::from(vector));
        self.taken[v][x] += 1;
        (self.taken[v][x] > self.unmerged[v][x]).then(|| Violation {
            invariant: Invariant::DuplicateIpi,
            cycle,
            vcpu,
            vector,
            detail: format!(
                "taken {} times, {} unmerged sends of it ({} sends in all): an acceptance \
                 with no send left to match",
                self.taken[v][x],
                self.unmerged[v][x],
                self.sends_of(vcpu, vector)
            ),
        })
    }

    /// Sends of `vector` that reached `vcpu` (posted there), merged ones included.
    fn sends_of(&self, vcpu: u8, vector: u8) -> usize {
        self.sends
            .iter()
            .filter(|s| s.vector == vector && s.state != SendState::Unposted && s.target == vcpu)
            .count()
    }

    /// The first lost send at quiescence: one never posted, or the first unmerged send of a
    /// (vCPU, vector) beyond its acceptances.
    pub fn lost(&self, cycle: u64) -> Option<Violation> {
        let who = |s: &Send| {
            if s.sender == TIMER_SENDER {
                format!("the timer fire at cycle {}", s.cycle)
            } else {
                format!(
                    "vCPU {}'s ICR write {:#018x} at cycle {}",
                    s.sender, s.icr, s.cycle
                )
            }
        };
        if let Some(s) = self.sends.iter().find(|s| s.state == SendState::Unposted) {
            let target = s.candidates.trailing_zeros() as u8;
            let to = if s.candidates.count_ones() == 1 {
                format!("vCPU {target}")
            } else {
                format!("any of the vCPUs {:#04b}", s.candidates)
            };
            return Some(Violation {
                invariant: Invariant::LostIpi,
                cycle,
                vcpu: target,
                vector: s.vector,
                detail: format!("{} never posted vector {:#04x} to {to}", who(s), s.vector),
            });
        }
        let (t, x, owed, taken) = self.first_missing()?;
        let s = self
            .sends
            .iter()
            .filter(|s| s.vector == x && s.target == t && matches!(s.state, SendState::Unmerged(_)))
            .nth(usize::from(taken))?;
        let SendState::Unmerged(at) = s.state else {
            return None;
        };
        Some(Violation {
            invariant: Invariant::LostIpi,
            cycle,
            vcpu: t,
            vector: x,
            detail: format!(
                "{} posted vector {x:#04x} to vCPU {t} at cycle {at}, never taken ({owed} \
                 unmerged sends, {taken} taken by quiescence)",
                who(s)
            ),
        })
    }
}

/// A bit of `vector` in `target`'s IRR turned on by `by` with no send to own it.
fn spurious(cycle: u64, target: u8, vector: u8, by: Agent) -> Violation {
    Violation {
        invariant: Invariant::DuplicateIpi,
        cycle,
        vcpu: target,
        vector,
        detail: format!(
            "the IRR bit turned on by {by} with no send of vector {vector:#04x} to vCPU \
             {target} left to post (a resurrected or spurious vector)"
        ),
    }
}

impl Oracle for Ledger {
    fn observe(&mut self, ev: &Obs) -> Option<Violation> {
        match *ev {
            Obs::Send {
                cycle,
                sender,
                icr,
                vector,
                candidates,
            } => {
                self.send(cycle, sender, icr, vector, candidates);
                None
            }
            Obs::Posted {
                cycle,
                target,
                vector,
                sender,
                was_set,
                by,
            } => self.posted(cycle, target, vector, sender, was_set, by),
            Obs::Stray {
                cycle,
                target,
                vector,
                by,
            } => Some(spurious(cycle, target, vector, by)),
            Obs::Accepted {
                cycle,
                vcpu,
                vector,
            } => self.take(cycle, vcpu, vector),
            _ => None,
        }
    }

    fn at_quiescence(&self, _: &dyn View, cycle: u64) -> Option<Violation> {
        self.lost(cycle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: u8 = 0x40;
    const HW0: Agent = Agent::Rtl { core: 0, port: 0 };
    const HW1: Agent = Agent::Rtl { core: 1, port: 0 };
    const HOST0: Agent = Agent::Host(0);

    #[test]
    fn two_senders_of_one_vector_posted_after_the_first_was_taken_are_two_sends() {
        let mut l = Ledger::new(3);
        l.send(10, 0, 0x40, V, 1 << 2);
        l.send(11, 1, 0x40, V, 1 << 2);
        assert_eq!(l.posted(20, 2, V, Some(0), false, HW0), None);
        assert_eq!(l.take(59, 2, V), None);
        assert_eq!(l.posted(73, 2, V, Some(1), false, HW1), None);
        assert_eq!(l.take(80, 2, V), None, "two sends, two acceptances");
        assert_eq!(l.lost(100), None);
    }

    #[test]
    fn a_send_posted_onto_a_set_bit_merges_and_owes_nothing() {
        let mut l = Ledger::new(3);
        l.send(10, 0, 0x40, V, 1 << 2);
        l.send(11, 1, 0x40, V, 1 << 2);
        assert_eq!(l.posted(20, 2, V, Some(0), false, HW0), None);
        assert_eq!(l.posted(21, 2, V, Some(1), true, HW1), None);
        assert_eq!(l.take(30, 2, V), None);
        assert_eq!(l.lost(100), None, "one bit, one acceptance");
        let v = l
            .take(40, 2, V)
            .expect("a second acceptance is a duplicate");
        assert_eq!(
            (v.invariant, v.cycle, v.vcpu),
            (Invariant::DuplicateIpi, 40, 2)
        );
    }

    #[test]
    fn a_reposting_after_the_acceptance_is_found_at_the_extra_acceptance() {
        // V1: the hardware posts, the target takes it, re-emulation posts the same send.
        let mut l = Ledger::new(2);
        l.send(10, 0, 0x40, V, 1 << 1);
        assert_eq!(l.posted(12, 1, V, Some(0), false, HW0), None);
        assert_eq!(l.take(20, 1, V), None);
        assert_eq!(l.posted(30, 1, V, Some(0), false, HOST0), None);
        let v = l.take(40, 1, V).expect("duplicate");
        assert!(
            v.detail.contains("taken 2 times, 1 unmerged"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn a_bit_turning_on_with_no_send_is_a_duplicate_at_once() {
        let mut l = Ledger::new(2);
        l.send(10, 0, 0x40, V, 1 << 1);
        assert_eq!(l.posted(12, 1, V, Some(0), false, HW0), None);
        let v = l
            .observe(&Obs::Stray {
                cycle: 13,
                target: 1,
                vector: 0x41,
                by: HW0,
            })
            .expect("stale bit written back");
        assert_eq!(
            (v.invariant, v.cycle, v.vector),
            (Invariant::DuplicateIpi, 13, 0x41)
        );
    }

    #[test]
    fn lost_names_the_sender_the_icr_and_the_target() {
        let mut l = Ledger::new(2);
        l.send(10, 0, 0x0000_0001_0000_0040, V, 1 << 1);
        let v = l.lost(99).expect("never posted");
        assert_eq!((v.invariant, v.vcpu, v.vector), (Invariant::LostIpi, 1, V));
        assert!(
            v.detail
                .contains("vCPU 0's ICR write 0x0000000100000040 at cycle 10")
                && v.detail.contains("to vCPU 1"),
            "{}",
            v.detail
        );
        assert_eq!(l.posted(12, 1, V, Some(0), false, HW0), None);
        let v = l.lost(99).expect("posted, never taken");
        assert!(
            v.detail.contains("at cycle 12, never taken"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn a_lowest_priority_send_is_owed_by_one_target_of_its_set() {
        let mut l = Ledger::new(3);
        l.send(10, 0, 0x140, V, 0b110);
        assert_eq!(l.posted(12, 2, V, Some(0), false, HOST0), None);
        assert_eq!(l.take(20, 2, V), None);
        assert_eq!(l.lost(99), None);
    }
}
