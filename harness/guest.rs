//! Guest programs: what each vCPU's guest does while its core is in guest mode.
//!
//! A program is a short list of [`GuestOp`]s. The guest runs with interrupts enabled: an
//! interrupt the AVIC receiver presents is taken (counted per vector) and acknowledged with an
//! EOI before the guest executes its next instruction. After its last op the guest idles in
//! `sti; hlt`, so a vCPU with nothing to do blocks in KVM.

use crate::apic::Icr;

/// One guest instruction of interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuestOp {
    /// Write ICR high then ICR low: the write the AVIC sender acts on.
    SendIpi(Icr),
    /// `sti; hlt`: exits to KVM (HLT intercept), which blocks until an interrupt is pending.
    Halt,
    /// Run in the guest for this many cycles without exiting (a busy loop).
    Spin(u16),
    /// Spin forever with interrupts enabled, never exiting (`1: pause; jmp 1b`): the guest of
    /// A3, which notices a pending vector only through a doorbell to its own core. Not an
    /// action (it changes nothing a schedule could order); ops after it never run.
    Loop,
}

/// Longest program.
pub const MAX_OPS: usize = 8;

/// A guest program, stored inline (no allocation in the cycle loop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Program {
    ops: [Option<GuestOp>; MAX_OPS],
    len: u8,
}

impl Program {
    /// A program of `ops` (at most [`MAX_OPS`]; the rest is ignored).
    pub fn new(ops: &[GuestOp]) -> Self {
        let mut p = Program::default();
        for op in ops.iter().take(MAX_OPS) {
            p.ops[usize::from(p.len)] = Some(*op);
            p.len += 1;
        }
        p
    }

    /// Op `i`, if any.
    pub fn get(&self, i: usize) -> Option<GuestOp> {
        self.ops.get(i).copied().flatten()
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// No ops.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The running state of one guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guest {
    /// Its program.
    pub program: Program,
    /// Next op.
    pub pc: usize,
    /// Cycles left of a `Spin`.
    pub spin_left: u16,
    /// Interrupts taken, per vector.
    pub taken: [u16; 256],
    /// An EOI is owed for the interrupt just taken.
    pub eoi_due: bool,
}

impl Default for Guest {
    fn default() -> Self {
        Guest::new(Program::default())
    }
}

impl Guest {
    /// A guest about to run `program`.
    pub fn new(program: Program) -> Self {
        Guest {
            program,
            pc: 0,
            spin_left: 0,
            taken: [0; 256],
            eoi_due: false,
        }
    }

    /// The next op: the program's, then `Halt` forever (the idle loop).
    pub fn next_op(&self) -> GuestOp {
        if self.spin_left > 0 {
            return GuestOp::Spin(self.spin_left);
        }
        self.program.get(self.pc).unwrap_or(GuestOp::Halt)
    }

    /// The program has run to its end (the guest only idles now).
    pub fn finished(&self) -> bool {
        self.pc >= self.program.len() && self.spin_left == 0
    }

    /// Executes the next op's effect on the guest's own state and returns the op.
    pub fn retire(&mut self) -> GuestOp {
        let op = self.next_op();
        match op {
            GuestOp::Loop => {}
            GuestOp::Spin(n) if self.spin_left == 0 => {
                self.pc += 1;
                self.spin_left = n.saturating_sub(1);
            }
            GuestOp::Spin(_) => self.spin_left -= 1,
            _ if self.pc < self.program.len() => self.pc += 1,
            _ => {}
        }
        op
    }

    /// The receiver presented `vector`.
    pub fn take(&mut self, vector: u8) {
        self.taken[usize::from(vector)] += 1;
        self.eoi_due = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_runs_then_idles_in_hlt() {
        let icr = Icr::fixed_physical(0x40, 1);
        let mut g = Guest::new(Program::new(&[GuestOp::Spin(2), GuestOp::SendIpi(icr)]));
        assert_eq!(g.retire(), GuestOp::Spin(2));
        assert_eq!(g.retire(), GuestOp::Spin(1));
        assert!(!g.finished());
        assert_eq!(g.retire(), GuestOp::SendIpi(icr));
        assert!(g.finished());
        assert_eq!(g.retire(), GuestOp::Halt);
        assert_eq!(g.retire(), GuestOp::Halt);
        g.take(0x40);
        g.take(0x40);
        assert_eq!(g.taken[0x40], 2);
        assert!(g.eoi_due);
    }
}
