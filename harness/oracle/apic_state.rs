//! The APIC-state invariant: whenever a vCPU's receiver is idle (an EOI's ISR clear has
//! completed, not at the EOI pulse: acceptance and EOI are transactions of their own) and at
//! quiescence, the backing page's
//!
//! - ISR holds exactly the vectors the guest took and has not EOI'd,
//! - IRR holds exactly the postings not yet accepted,
//! - and `in_service_o` of the core serving the page is set exactly when the ISR holds a
//!   vector.
//!
//! The model it compares against is built from events only: a posting sets the vector in the
//! expected IRR, an acceptance moves it to the expected ISR, an EOI clears the highest
//! expected ISR vector (the guest EOIs the interrupt it is serving).

use super::{Invariant, Obs, Oracle, View, Violation};
use crate::apic::highest_vector;

/// The IRR and ISR each vCPU's backing page should hold. Fixed size per vCPU.
#[derive(Clone, Debug)]
pub struct ApicModel {
    irr: Vec<[u32; 8]>,
    isr: Vec<[u32; 8]>,
    /// Something changed since the last check of the vCPU.
    dirty: Vec<bool>,
}

fn set(regs: &mut [u32; 8], vector: u8, on: bool) {
    let (n, b) = (usize::from(vector >> 5), 1u32 << (vector & 31));
    if on {
        regs[n] |= b;
    } else {
        regs[n] &= !b;
    }
}

/// The vectors set in `a` and not in `b`, as `0x40 0x41`.
fn only_in(a: &[u32; 8], b: &[u32; 8]) -> String {
    let mut s = String::new();
    for x in 0..=255u8 {
        let (n, bit) = (usize::from(x >> 5), 1u32 << (x & 31));
        if a[n] & bit != 0 && b[n] & bit == 0 {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!("{x:#04x}"));
        }
    }
    s
}

impl ApicModel {
    /// Empty registers for `n` vCPUs.
    pub fn new(n: usize) -> Self {
        ApicModel {
            irr: vec![[0; 8]; n],
            isr: vec![[0; 8]; n],
            dirty: vec![false; n],
        }
    }

    /// Whether `vcpu`'s registers changed since it was last judged.
    pub fn dirty(&self, vcpu: u8) -> bool {
        self.dirty[usize::from(vcpu)]
    }

    /// `vcpu` is being judged now.
    pub fn clean(&mut self, vcpu: u8) {
        self.dirty[usize::from(vcpu)] = false;
    }

    /// Compares `vcpu`'s page with the model.
    fn check(&self, w: &dyn View, vcpu: u8, cycle: u64) -> Option<Violation> {
        let v = usize::from(vcpu);
        let fail = |vector: u8, detail: String| {
            Some(Violation {
                invariant: Invariant::ApicState,
                cycle,
                vcpu,
                vector,
                detail,
            })
        };
        let (irr, isr) = (w.irr(vcpu), w.isr(vcpu));
        for (name, have, want, what) in [
            ("ISR", &isr, &self.isr[v], "taken and not EOI'd"),
            ("IRR", &irr, &self.irr[v], "posted and not accepted"),
        ] {
            if have != want {
                let extra = only_in(have, want);
                let missing = only_in(want, have);
                let vector = highest_vector(have)
                    .filter(|_| !extra.is_empty())
                    .or(highest_vector(want))
                    .unwrap_or(0);
                let mut d = format!("the backing page's {name}");
                if !extra.is_empty() {
                    d.push_str(&format!(" holds {extra}"));
                }
                if !missing.is_empty() {
                    if !extra.is_empty() {
                        d.push_str(" and");
                    }
                    d.push_str(&format!(" lacks {missing}"));
                }
                d.push_str(&format!(
                    " while its receiver is idle (it should hold the vectors {what})"
                ));
                return fail(vector, d);
            }
        }
        let busy = isr.iter().any(|&r| r != 0);
        match w.in_service(vcpu) {
            Some(s) if s != busy => fail(
                highest_vector(&isr).unwrap_or(0),
                format!(
                    "in_service_o is {} while the ISR {}",
                    u8::from(s),
                    if busy { "holds a vector" } else { "is empty" }
                ),
            ),
            _ => None,
        }
    }
}

impl Oracle for ApicModel {
    fn observe(&mut self, ev: &Obs) -> Option<Violation> {
        match *ev {
            Obs::Posted { target, vector, .. } | Obs::Stray { target, vector, .. } => {
                set(&mut self.irr[usize::from(target)], vector, true);
                self.dirty[usize::from(target)] = true;
            }
            Obs::Accepted { vcpu, vector, .. } => {
                let v = usize::from(vcpu);
                set(&mut self.irr[v], vector, false);
                set(&mut self.isr[v], vector, true);
                self.dirty[v] = true;
            }
            Obs::Eoi { vcpu, .. } => {
                let v = usize::from(vcpu);
                if let Some(x) = highest_vector(&self.isr[v]) {
                    set(&mut self.isr[v], x, false);
                }
                self.dirty[v] = true;
            }
            _ => {}
        }
        None
    }

    fn at_idle(&self, w: &dyn View, vcpu: u8, cycle: u64) -> Option<Violation> {
        self.check(w, vcpu, cycle)
    }

    fn at_quiescence(&self, w: &dyn View, cycle: u64) -> Option<Violation> {
        (0..w.n_vcpus()).find_map(|v| self.check(w, v, cycle))
    }
}
