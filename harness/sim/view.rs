//! What the oracles see of a world ([`View`]).

use super::*;
use crate::apic::{irr_word, isr_word};
use crate::dut::PORT_RCV;

impl View for World {
    fn n_vcpus(&self) -> u8 {
        self.sc.n() as u8
    }

    fn irr(&self, vcpu: u8) -> [u32; 8] {
        let b = self.sc.kvm.layout.vm.backing(vcpu);
        std::array::from_fn(|n| self.dut.mem.peek(irr_word(b, (n as u8) << 5)).unwrap_or(0) as u32)
    }

    fn isr(&self, vcpu: u8) -> [u32; 8] {
        let b = self.sc.kvm.layout.vm.backing(vcpu);
        std::array::from_fn(|n| self.dut.mem.peek(isr_word(b, (n as u8) << 5)).unwrap_or(0) as u32)
    }

    fn sleeping(&self, vcpu: u8) -> bool {
        self.state.threads[usize::from(vcpu)].sleeping()
    }

    fn receiver_idle(&self, vcpu: u8) -> bool {
        self.receiver_of(vcpu).is_none_or(|c| {
            let o = &self.dut.out.core[c];
            !o.eval_busy && !o.port[PORT_RCV].valid && !self.dut.in_flight(c, PORT_RCV)
        })
    }

    fn in_service(&self, vcpu: u8) -> Option<bool> {
        // With AVIC off the ISR is the emulated LAPIC's; the receiver does not serve it.
        let v = usize::from(vcpu);
        if !self.state.apicv.avic_on[v] || !self.state.threads[v].avic_enabled() {
            return None;
        }
        self.receiver_of(vcpu)
            .map(|c| self.dut.out.core[c].in_service)
    }

    fn stuck(&self) -> (u8, u8) {
        let n = self.sc.n() as u8;
        let busy = (0..n).find(|&v| {
            self.receiver_of(v).is_some_and(|c| {
                let o = &self.dut.out.core[c];
                o.eval_busy || o.in_service
            })
        });
        if let Some(v) = busy {
            let x = crate::apic::highest_vector(&self.isr(v))
                .or(crate::apic::highest_vector(&self.irr(v)))
                .unwrap_or(0);
            return (v, x);
        }
        let awake = (0..n).find(|&v| !self.state.threads[usize::from(v)].sleeping());
        (awake.unwrap_or(0), 0)
    }

    fn activity(&self) -> String {
        let mut s = String::new();
        for (v, t) in self.state.threads.iter().enumerate() {
            let state = if t.sleeping() {
                "asleep"
            } else if t.in_guest() {
                "in guest"
            } else if t.runnable() {
                "runnable"
            } else {
                "waiting"
            };
            let _ = write!(
                s,
                "vCPU {v} thread {state} at {} on CPU {}, guest next {:?}; ",
                t.step_name(),
                t.cpu(),
                self.state.guests[v].next_op()
            );
        }
        for c in 0..self.dut.cores() {
            let o = &self.dut.out.core[c];
            let ports: Vec<usize> = (0..3).filter(|&p| self.dut.in_flight(c, p)).collect();
            if o.busy || o.eval_busy || o.in_service || !ports.is_empty() {
                let _ = write!(
                    s,
                    "core {c}: sender busy {}, receiver eval_busy {}, in_service {}, \
                     transactions outstanding on ports {ports:?}; ",
                    u8::from(o.busy),
                    u8::from(o.eval_busy),
                    u8::from(o.in_service)
                );
            }
        }
        for cpu in 0..=self.sc.cores {
            let n = self.dut.mem.sb_len(cpu);
            if n > 0 {
                let _ = write!(s, "host CPU {cpu}: {n} stores buffered; ");
            }
        }
        s.trim_end_matches("; ").to_string()
    }
}
