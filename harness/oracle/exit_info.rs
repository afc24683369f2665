//! The exit-info invariant: EXITINFO1 of #VMEXIT 0x401 (AVIC_INCOMPLETE_IPI) is the ICR the
//! guest wrote, and EXITINFO2 carries a defined cause (APM Table 15-27) with bits 31:12 of the
//! index field zero. A guest that entered with AVIC off exits instead with NPF (0x400),
//! EXITINFO1 the ICR and EXITINFO2 the ICR's address (docs/port-contract.md, "AVIC enable").
//! Judged at every exit.

use super::{Invariant, Obs, Oracle, Violation};
use crate::apic::{EXIT_AVIC_INCOMPLETE_IPI, EXIT_NPF, ICR_GPA};

/// Checks every #VMEXIT against the APM encoding; holds no state.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitInfoCheck;

impl Oracle for ExitInfoCheck {
    fn observe(&mut self, ev: &Obs) -> Option<Violation> {
        let Obs::Exit {
            cycle,
            vcpu,
            code,
            info1,
            info2,
            icr,
            avic,
        } = *ev
        else {
            return None;
        };
        let cause = (info2 >> 32) as u32;
        let ok = if avic {
            code == u32::from(EXIT_AVIC_INCOMPLETE_IPI)
                && info1 == icr
                && cause <= 4
                && info2 & 0xFFFF_F000 == 0
        } else {
            code == u32::from(EXIT_NPF) && info1 == icr && info2 == ICR_GPA
        };
        (!ok).then(|| Violation {
            invariant: Invariant::ExitInfo,
            cycle,
            vcpu,
            vector: info1 as u8,
            detail: format!(
                "exit {code:#x} EXITINFO1={info1:#018x} EXITINFO2={info2:#018x}, guest wrote \
                 ICR {icr:#018x}"
            ),
        })
    }
}
