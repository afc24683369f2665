//! The software lanes: per cycle and vCPU, what KVM, the memory and the guest did, recorded by
//! the world while it runs (only when a waveform is asked for) into buffers reserved up front.
//!
//! # Timing
//!
//! Waveform time `2c` is the low phase of cycle `c` (the RTL's inputs for the cycle applied),
//! `2c + 1` the state after its rising edge. Software acts before the edge, RTL outputs appear
//! after it, and each lane follows the side it comes from:
//!
//! - at `2c`: the KVM step the thread executes in cycle `c` (or waits at), and the state at the
//!   end of cycle `c` (memory changes only before the edge: thread steps, store-buffer drains,
//!   RTL transaction completions), and the markers of software actions and memory effects
//!   (ICR write, IRR bit visible, IsRunning read by the RTL, step taken, wake-up);
//! - at `2c + 1`: what the RTL's outputs did at the edge (doorbell, doorbell dropped, #VMEXIT,
//!   interrupt taken), aligned with the RTL's own registered outputs.
//!
//! Markers are pulses one cycle long.

use crate::apic::{irr_word, PhysEntry};
use crate::dut::{Dut, DutEvent, MemOp, PORT_TBL};
use crate::kvm::{decode_targets, LoadVia, Pc, PutVia, VcpuThread};
use crate::oracle::{Invariant, Violation};
use crate::scenario::{Scenario, MAX_VCPUS};
use crate::sim::{Action, Event, Observer, Verdict, World, TIMER_VECTOR};

/// Marker bits of one vCPU in one cycle.
pub(crate) mod mark {
    /// The guest wrote ICR (pre-edge, with the RTL's `icr_wr_i`).
    pub const ICR_WRITE: u16 = 1 << 0;
    /// A vector sent to this vCPU became globally visible in its IRR.
    pub const IRR_VISIBLE: u16 = 1 << 1;
    /// The RTL completed a table read of this vCPU's Physical APIC ID entry (its IsRunning).
    pub const ISRUN_READ: u16 = 1 << 2;
    /// The KVM thread took its step (the `kvm_step` lane) this cycle.
    pub const STEPPED: u16 = 1 << 3;
    /// The thread left `schedule()`'s sleep.
    pub const WAKE: u16 = 1 << 4;
    /// A hardware doorbell was rung to this vCPU's core (post-edge).
    pub const DOORBELL: u16 = 1 << 5;
    /// This core dropped a doorbell, being in host mode (post-edge).
    pub const DB_DROPPED: u16 = 1 << 6;
    /// #VMEXIT (AVIC_INCOMPLETE_IPI) from this core's sender (post-edge).
    pub const VMEXIT: u16 = 1 << 7;
    /// The invariant broke for this vCPU.
    pub const VIOLATED: u16 = 1 << 8;
    /// State bits (not markers).
    pub const ISRUN_GLOBAL: u16 = 1 << 12;
    /// IsRunning as this vCPU's own host CPU reads it (its store buffer forwarded).
    pub const ISRUN_OWN: u16 = 1 << 13;
    /// Asleep in `schedule()`.
    pub const SLEEPING: u16 = 1 << 14;
}

/// One vCPU in one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct VcpuSample {
    /// Code of the KVM step ([`step_code`]).
    pub step: u8,
    /// `vcpu->mode` in global memory.
    pub mode: u8,
    /// Store-buffer entries of the vCPU's host CPU.
    pub sb: u8,
    /// Highest vector set in the IRR of its backing page (global memory), 0 if none.
    pub irr: u8,
    /// Vector the guest took this cycle (post-edge), 0 if none.
    pub intr: u8,
    /// [`mark`] bits.
    pub flags: u16,
}

/// One cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CycleSample {
    /// The scheduled action ([`action_code`]), 0 if none.
    pub action: u8,
    /// Per vCPU.
    pub vcpu: [VcpuSample; MAX_VCPUS],
}

/// The software lanes of one run, recorded by [`crate::sim::World`] when built for a
/// waveform: an [`Observer`] of the run ([`World::run_with`]).
///
/// Every buffer is reserved when recording starts (for `max_cycles` of the scenario), so the
/// cycle loop stays allocation-free with or without lanes.
#[derive(Clone, Debug)]
pub struct Lanes {
    pub(crate) n: usize,
    /// Cycle of `samples[0]`.
    pub(crate) start: u64,
    pub(crate) samples: Vec<CycleSample>,
    /// The violation, if the run ended with one.
    pub(crate) violation: Option<Violation>,
    /// Cycle at which the run ended (the last sample).
    pub(crate) end: u64,
    // Per-cycle scratch.
    pending_step: [u8; MAX_VCPUS],
    was_sleeping: [bool; MAX_VCPUS],
    log_mark: usize,
    txn_mark: usize,
    event_mark: usize,
    /// Vectors sent to each vCPU whose IRR bit has not been seen set yet.
    watch: [[u64; 4]; MAX_VCPUS],
}

/// The lanes record a run as an observer of its loop.
impl Observer for Lanes {
    fn begin(&mut self, w: &World) {
        self.before(w.threads(), w.log().len(), w.dut());
    }

    fn end(&mut self, w: &World, acted: Option<Action>) {
        self.after(w.scenario(), acted, w.dut(), w.threads(), w.log());
    }

    fn finish(&mut self, verdict: &Verdict, cycle: u64) {
        self.close(verdict, cycle);
    }
}

impl Lanes {
    /// Empty lanes for `sc`, starting at `start_cycle`.
    pub(crate) fn new(sc: &Scenario, start_cycle: u64) -> Self {
        Lanes {
            n: usize::from(sc.kvm.n_vcpus),
            start: start_cycle,
            samples: Vec::with_capacity(sc.max_cycles as usize + 2),
            violation: None,
            end: start_cycle,
            pending_step: [0; MAX_VCPUS],
            was_sleeping: [false; MAX_VCPUS],
            log_mark: 0,
            txn_mark: 0,
            event_mark: 0,
            watch: [[0; 4]; MAX_VCPUS],
        }
    }

    /// Number of vCPUs.
    pub fn n_vcpus(&self) -> usize {
        self.n
    }

    /// Cycles recorded (the first is [`Lanes::start_cycle`]).
    pub fn cycles(&self) -> usize {
        self.samples.len()
    }

    /// Cycle of the first sample (the world's cycle counter, reset cycles included).
    pub fn start_cycle(&self) -> u64 {
        self.start
    }

    /// The violation the run ended with, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// Before the cycle's action: the step each thread is at (executed if it acts).
    fn before(&mut self, threads: &[VcpuThread], log_len: usize, dut: &Dut) {
        for (v, t) in threads.iter().enumerate() {
            self.pending_step[v] = step_code(t.pc());
            self.was_sleeping[v] = t.sleeping();
        }
        self.log_mark = log_len;
        self.txn_mark = dut.txns().len();
        self.event_mark = dut.events().len();
    }

    /// After the cycle (action, edge, routing): samples the state and the cycle's events.
    fn after(
        &mut self,
        sc: &Scenario,
        action: Option<Action>,
        dut: &Dut,
        threads: &[VcpuThread],
        log: &[Event],
    ) {
        let mut s = CycleSample {
            action: action.map_or(0, action_code),
            ..CycleSample::default()
        };
        let layout = sc.kvm.layout;
        let mem = &dut.mem;
        for (v, t) in threads.iter().enumerate() {
            let vs = &mut s.vcpu[v];
            let vu = v as u8;
            vs.step = self.pending_step[v];
            vs.mode = mem.peek(layout.mode(vu)).unwrap_or(0) as u8;
            vs.sb = mem.sb_len(t.cpu()).min(255) as u8;
            let entry = layout.vm.phys_entry(vu);
            let bit = 1u64 << PhysEntry::IS_RUNNING_BIT;
            if mem.peek(entry).unwrap_or(0) & bit != 0 {
                vs.flags |= mark::ISRUN_GLOBAL;
            }
            if mem.visible_to(t.cpu(), entry).unwrap_or(0) & bit != 0 {
                vs.flags |= mark::ISRUN_OWN;
            }
            if t.sleeping() {
                vs.flags |= mark::SLEEPING;
            }
            if self.was_sleeping[v] && !t.sleeping() {
                vs.flags |= mark::WAKE;
            }
            let backing = layout.vm.backing(vu);
            vs.irr = (0..8u8)
                .rev()
                .find_map(|r| {
                    let w = mem.peek(irr_word(backing, r << 5)).unwrap_or(0) as u32;
                    (w != 0).then(|| r << 5 | (31 - w.leading_zeros()) as u8)
                })
                .unwrap_or(0);
        }
        if let Some(Action::Thread(v)) = action {
            s.vcpu[usize::from(v)].flags |= mark::STEPPED;
        }
        for e in log.get(self.log_mark..).unwrap_or(&[]) {
            match *e {
                Event::Send { from, icr, .. } => {
                    s.vcpu[usize::from(from)].flags |= mark::ICR_WRITE;
                    for &t in decode_targets(&icr, from, &sc.kvm).as_slice() {
                        if usize::from(t) < self.n {
                            watch(&mut self.watch[usize::from(t)], icr.vector);
                        }
                    }
                }
                Event::TimerFired { vcpu, .. } => {
                    watch(&mut self.watch[usize::from(vcpu)], TIMER_VECTOR);
                }
                _ => {}
            }
        }
        // The vCPU whose thread runs on a core (host CPU c is core c).
        let on = |core: usize| threads.iter().position(|t| usize::from(t.cpu()) == core);
        for e in dut.events().get(self.event_mark..).unwrap_or(&[]) {
            match *e {
                DutEvent::Doorbell { host_id, .. } => {
                    if let Some(v) = on(usize::from(host_id)) {
                        s.vcpu[v].flags |= mark::DOORBELL;
                    }
                }
                DutEvent::DoorbellDropped { core, .. } => {
                    if let Some(v) = on(core) {
                        s.vcpu[v].flags |= mark::DB_DROPPED;
                    }
                }
                DutEvent::Exit { core, .. } => {
                    if let Some(v) = on(core) {
                        s.vcpu[v].flags |= mark::VMEXIT;
                    }
                }
                DutEvent::Interrupt { core, vector, .. } => {
                    if let Some(v) = on(core) {
                        s.vcpu[v].intr = vector;
                    }
                }
            }
        }
        for x in dut.txns().get(self.txn_mark..).unwrap_or(&[]) {
            if x.port == PORT_TBL && x.op == MemOp::Read {
                for v in 0..self.n {
                    if x.addr == layout.vm.phys_entry(v as u8) {
                        s.vcpu[v].flags |= mark::ISRUN_READ;
                    }
                }
            }
        }
        for v in 0..self.n {
            let backing = layout.vm.backing(v as u8);
            for (w, bits) in self.watch[v].iter_mut().enumerate() {
                let mut rest = *bits;
                while rest != 0 {
                    let b = rest.trailing_zeros();
                    rest &= rest - 1;
                    let vector = (w as u32 * 64 + b) as u8;
                    let word = mem.peek(irr_word(backing, vector)).unwrap_or(0);
                    if word & 1 << (vector & 31) != 0 {
                        *bits &= !(1 << b);
                        s.vcpu[v].flags |= mark::IRR_VISIBLE;
                    }
                }
            }
        }
        if self.samples.len() < self.samples.capacity() {
            self.samples.push(s);
        }
    }

    /// The run ended at `cycle` with `verdict`: one last sample (the state as it stands, no
    /// action) and the violation marker.
    fn close(&mut self, verdict: &Verdict, cycle: u64) {
        let mut last = self.samples.last().copied().unwrap_or_default();
        last.action = 0;
        for v in last.vcpu.iter_mut() {
            v.flags &= mark::ISRUN_GLOBAL | mark::ISRUN_OWN | mark::SLEEPING;
            v.intr = 0;
        }
        while self.start + (self.samples.len() as u64) <= cycle {
            self.samples.push(last);
        }
        self.end = cycle;
        if let Verdict::Violated(v) = verdict {
            let i = v.cycle.saturating_sub(self.start) as usize;
            if let Some(s) = self.samples.get_mut(i) {
                if usize::from(v.vcpu) < MAX_VCPUS {
                    s.vcpu[usize::from(v.vcpu)].flags |= mark::VIOLATED;
                }
            }
            self.violation = Some(v.clone());
        }
    }
}

fn watch(set: &mut [u64; 4], vector: u8) {
    set[usize::from(vector >> 6)] |= 1 << (vector & 63);
}

/// Whether the invariant is detected after the clock edge (an RTL output) rather than before
/// it (at quiescence): the phase of the violation marker.
pub(crate) fn violation_post_edge(inv: Invariant) -> bool {
    matches!(inv, Invariant::DuplicateIpi | Invariant::ExitInfo)
}

// ------------------------------------------------------------------------------------------
// Enum codes and their names
// ------------------------------------------------------------------------------------------

const LOAD_VIAS: [LoadVia; 3] = [LoadVia::VcpuLoad, LoadVia::Unblocking, LoadVia::SchedIn];
const PUT_VIAS: [PutVia; 2] = [PutVia::Blocking, PutVia::SchedOut];

/// Every step of a vCPU thread, in code order (code = index + 1; 0 = no thread).
pub(crate) fn all_steps() -> Vec<Pc> {
    let mut v = vec![Pc::KvmArchVcpuLoad];
    v.extend(LOAD_VIAS.map(|via| Pc::AvicVcpuLoadEntry { via }));
    v.extend(LOAD_VIAS.map(|via| Pc::AvicVcpuLoadStoreEntry { via }));
    v.extend([
        Pc::VcpuEnterGuestRequests,
        Pc::KvmClearRequest,
        Pc::VcpuEnterGuestStoreMode,
        Pc::VcpuEnterGuestMb,
        Pc::VcpuEnterGuestCheckMode,
        Pc::VcpuEnterGuestCheckRequests,
        Pc::VcpuEnterGuestAbort,
        Pc::Vmrun,
        Pc::InGuest,
        Pc::ExitStoreMode,
        Pc::AvicIncompleteIpiInterception,
        Pc::AvicVcpuBlocking,
    ]);
    v.extend(PUT_VIAS.map(|via| Pc::AvicVcpuPutStoreEntry { via }));
    v.extend([
        Pc::KvmSchedOut,
        Pc::KvmSchedIn,
        Pc::PrepareToRcuwait,
        Pc::SetCurrentState,
        Pc::CheckBlockIrrPending,
    ]);
    v.extend((0..8).rev().map(|reg| Pc::CheckBlockSearchIrr { reg }));
    v.extend([
        Pc::Schedule,
        Pc::Sleeping,
        Pc::ScheduleReturn,
        Pc::FinishRcuwait,
        Pc::FinishRcuwaitSetRunning,
        Pc::AvicVcpuUnblocking,
        Pc::KvmLapicRegWriteIcr2,
        Pc::KvmLapicRegWriteIcrLoadIcr2,
        Pc::KvmLapicRegWriteIcrStore,
        Pc::AvicVcpuIsRunning,
        Pc::AvicKickVcpuIrrPending,
        Pc::SvmDeliverAvicIntrApicvActive,
        Pc::KvmLapicSetIrr,
        Pc::KvmLapicSetIrrPending,
        Pc::SvmDeliverAvicIntrCheckRunning,
        Pc::SvmCompleteInterruptDeliveryMode,
        Pc::SvmCompleteInterruptDeliveryApicvActive,
        Pc::AvicRingDoorbellLoadCpu,
        Pc::AvicRingDoorbellWrmsr,
        Pc::KvmMakeRequest,
        Pc::RcuwaitWakeUpMb,
        Pc::RcuwaitWakeUpLoadTask,
        Pc::WakeUpProcess,
        Pc::KvmVcpuKickCmpxchgMode,
        Pc::KvmVcpuKickLoadCpu,
        Pc::SmpSendReschedule,
        Pc::AvicSetRunningLoad,
    ]);
    v.extend((0..4).map(|to| Pc::ContextSwitch { to }));
    v.extend(LOAD_VIAS.map(|via| Pc::KvmArchVcpuLoadSetCpu { via }));
    // Added with the sleep-time context switch and SRCU's fence (issue 14), appended so that
    // the older codes keep their values.
    let wake = LoadVia::ScheduleWakeup;
    v.extend([
        Pc::AvicVcpuLoadEntry { via: wake },
        Pc::AvicVcpuLoadStoreEntry { via: wake },
        Pc::KvmArchVcpuLoadSetCpu { via: wake },
        Pc::AvicVcpuPutStoreEntry {
            via: PutVia::Schedule,
        },
        Pc::CheckBlockSrcuReadLock,
        Pc::ScheduleKvmSchedOut,
        Pc::ScheduleKvmSchedIn,
        Pc::AvicKickTargetVcpusFastLogicalId,
    ]);
    // APICv inhibition (issue 14), appended likewise.
    let refresh = LoadVia::Refresh;
    v.extend([
        Pc::AvicVcpuLoadEntry { via: refresh },
        Pc::AvicVcpuLoadStoreEntry { via: refresh },
        Pc::KvmArchVcpuLoadSetCpu { via: refresh },
        Pc::AvicVcpuPutStoreEntry {
            via: PutVia::Refresh,
        },
        Pc::KvmCheckRequestApicvUpdate,
        Pc::KvmVcpuUpdateApicvReasons,
        Pc::KvmVcpuUpdateApicvStoreActive,
        Pc::KvmApicUpdateApicv,
    ]);
    v.extend(
        (0..8)
            .rev()
            .map(|reg| Pc::KvmApicUpdateApicvSearchIrr { reg }),
    );
    v.extend([
        Pc::KvmApicUpdateApicvStoreIrrPending,
        Pc::AvicRefreshApicvExecCtrl,
        Pc::AvicRefreshLoad,
        Pc::KvmVcpuUpdateApicvRequestEvent,
        Pc::InjectIrrPending,
    ]);
    v.extend((0..8).rev().map(|reg| Pc::InjectSearchIrr { reg }));
    v.extend([Pc::ApicClearIrrPendingFalse, Pc::KvmCpuGetInterrupt]);
    v.extend((0..8).rev().map(|reg| Pc::ApicClearIrrSearchIrr { reg }));
    v.extend([
        Pc::ApicClearIrrPendingTrue,
        Pc::ApicSetEoi,
        Pc::ApicSetEoiRequestEvent,
    ]);
    v
}

/// Code of a step in the `kvm_step` lane: its position in [`all_steps`] plus one; 255 for a
/// step missing from the table.
pub(crate) fn step_code(pc: Pc) -> u8 {
    // Kept allocation-free for the cycle loop: a match, checked against `all_steps` by a test.
    let via_l = |via: LoadVia| match via {
        LoadVia::VcpuLoad => 0,
        LoadVia::Unblocking => 1,
        LoadVia::SchedIn => 2,
        LoadVia::ScheduleWakeup | LoadVia::Refresh => 3,
    };
    let via_p = |via: PutVia| match via {
        PutVia::Blocking => 0,
        PutVia::SchedOut => 1,
        PutVia::Schedule | PutVia::Refresh => 2,
    };
    let wake = LoadVia::ScheduleWakeup;
    let refresh = LoadVia::Refresh;
    let reg_code = |base: u8, reg: u8| if reg < 8 { base + (7 - reg) } else { 255 };
    match pc {
        Pc::AvicVcpuLoadEntry { via } if via == refresh => 77,
        Pc::AvicVcpuLoadStoreEntry { via } if via == refresh => 78,
        Pc::KvmArchVcpuLoadSetCpu { via } if via == refresh => 79,
        Pc::AvicVcpuPutStoreEntry {
            via: PutVia::Refresh,
        } => 80,
        Pc::KvmCheckRequestApicvUpdate => 81,
        Pc::KvmVcpuUpdateApicvReasons => 82,
        Pc::KvmVcpuUpdateApicvStoreActive => 83,
        Pc::KvmApicUpdateApicv => 84,
        Pc::KvmApicUpdateApicvSearchIrr { reg } => reg_code(85, reg),
        Pc::KvmApicUpdateApicvStoreIrrPending => 93,
        Pc::AvicRefreshApicvExecCtrl => 94,
        Pc::AvicRefreshLoad => 95,
        Pc::KvmVcpuUpdateApicvRequestEvent => 96,
        Pc::InjectIrrPending => 97,
        Pc::InjectSearchIrr { reg } => reg_code(98, reg),
        Pc::ApicClearIrrPendingFalse => 106,
        Pc::KvmCpuGetInterrupt => 107,
        Pc::ApicClearIrrSearchIrr { reg } => reg_code(108, reg),
        Pc::ApicClearIrrPendingTrue => 116,
        Pc::ApicSetEoi => 117,
        Pc::ApicSetEoiRequestEvent => 118,
        Pc::AvicVcpuLoadEntry { via } if via == wake => 69,
        Pc::AvicVcpuLoadStoreEntry { via } if via == wake => 70,
        Pc::KvmArchVcpuLoadSetCpu { via } if via == wake => 71,
        Pc::AvicVcpuPutStoreEntry {
            via: PutVia::Schedule,
        } => 72,
        Pc::CheckBlockSrcuReadLock => 73,
        Pc::ScheduleKvmSchedOut => 74,
        Pc::ScheduleKvmSchedIn => 75,
        Pc::AvicKickTargetVcpusFastLogicalId => 76,
        Pc::KvmArchVcpuLoad => 1,
        Pc::AvicVcpuLoadEntry { via } => 2 + via_l(via),
        Pc::AvicVcpuLoadStoreEntry { via } => 5 + via_l(via),
        Pc::VcpuEnterGuestRequests => 8,
        Pc::KvmClearRequest => 9,
        Pc::VcpuEnterGuestStoreMode => 10,
        Pc::VcpuEnterGuestMb => 11,
        Pc::VcpuEnterGuestCheckMode => 12,
        Pc::VcpuEnterGuestCheckRequests => 13,
        Pc::VcpuEnterGuestAbort => 14,
        Pc::Vmrun => 15,
        Pc::InGuest => 16,
        Pc::ExitStoreMode => 17,
        Pc::AvicIncompleteIpiInterception => 18,
        Pc::AvicVcpuBlocking => 19,
        Pc::AvicVcpuPutStoreEntry { via } => 20 + via_p(via),
        Pc::KvmSchedOut => 22,
        Pc::KvmSchedIn => 23,
        Pc::PrepareToRcuwait => 24,
        Pc::SetCurrentState => 25,
        Pc::CheckBlockIrrPending => 26,
        Pc::CheckBlockSearchIrr { reg } if reg < 8 => 27 + (7 - reg),
        Pc::CheckBlockSearchIrr { .. } => 255,
        Pc::Schedule => 35,
        Pc::Sleeping => 36,
        Pc::ScheduleReturn => 37,
        Pc::FinishRcuwait => 38,
        Pc::FinishRcuwaitSetRunning => 39,
        Pc::AvicVcpuUnblocking => 40,
        Pc::KvmLapicRegWriteIcr2 => 41,
        Pc::KvmLapicRegWriteIcrLoadIcr2 => 42,
        Pc::KvmLapicRegWriteIcrStore => 43,
        Pc::AvicVcpuIsRunning => 44,
        Pc::AvicKickVcpuIrrPending => 45,
        Pc::SvmDeliverAvicIntrApicvActive => 46,
        Pc::KvmLapicSetIrr => 47,
        Pc::KvmLapicSetIrrPending => 48,
        Pc::SvmDeliverAvicIntrCheckRunning => 49,
        Pc::SvmCompleteInterruptDeliveryMode => 50,
        Pc::SvmCompleteInterruptDeliveryApicvActive => 51,
        Pc::AvicRingDoorbellLoadCpu => 52,
        Pc::AvicRingDoorbellWrmsr => 53,
        Pc::KvmMakeRequest => 54,
        Pc::RcuwaitWakeUpMb => 55,
        Pc::RcuwaitWakeUpLoadTask => 56,
        Pc::WakeUpProcess => 57,
        Pc::KvmVcpuKickCmpxchgMode => 58,
        Pc::KvmVcpuKickLoadCpu => 59,
        Pc::SmpSendReschedule => 60,
        Pc::AvicSetRunningLoad => 61,
        Pc::ContextSwitch { to } if to < 4 => 62 + to,
        Pc::ContextSwitch { .. } => 255,
        Pc::KvmArchVcpuLoadSetCpu { via } => 66 + via_l(via),
    }
}

/// The name shown for a step: the kernel-style name of [`Pc::name`], with the caller or the
/// IRR register where one name covers several steps.
pub(crate) fn step_label(pc: Pc) -> String {
    let via_l = |via: LoadVia| match via {
        LoadVia::VcpuLoad => "vcpu_load",
        LoadVia::Unblocking => "unblocking",
        LoadVia::SchedIn => "sched_in",
        LoadVia::ScheduleWakeup => "schedule",
        LoadVia::Refresh => "refresh",
    };
    let via_p = |via: PutVia| match via {
        PutVia::Blocking => "blocking",
        PutVia::SchedOut => "sched_out",
        PutVia::Schedule => "schedule",
        PutVia::Refresh => "refresh",
    };
    match pc {
        Pc::AvicVcpuLoadEntry { via }
        | Pc::AvicVcpuLoadStoreEntry { via }
        | Pc::KvmArchVcpuLoadSetCpu { via } => {
            format!("{} <{}>", pc.name(), via_l(via))
        }
        Pc::AvicVcpuPutStoreEntry { via } => format!("{} <{}>", pc.name(), via_p(via)),
        Pc::CheckBlockSearchIrr { reg }
        | Pc::KvmApicUpdateApicvSearchIrr { reg }
        | Pc::InjectSearchIrr { reg }
        | Pc::ApicClearIrrSearchIrr { reg } => format!("{}(IRR{reg})", pc.name()),
        Pc::ContextSwitch { to } => format!("{} <to cpu{to}>", pc.name()),
        _ => pc.name().to_string(),
    }
}

/// Code of an action in the `action` lane: kind in the high nibble, agent in the low one; cores
/// and vCPUs 4 to 7 (beyond the default build's four) take codes of their own above 0x9F.
pub(crate) fn action_code(a: Action) -> u8 {
    match a {
        Action::Thread(v) => 0x10 | (v & 15),
        Action::Guest(v) => 0x20 | (v & 15),
        Action::Complete(c, p) if c < 4 => 0x30 | (c << 2 | (p & 3)),
        Action::Complete(c, p) => 0xA0 | ((c & 3) << 2 | (p & 3)),
        Action::Drain(c) => 0x40 | (c & 15),
        Action::Timer(v) => 0x50 | (v & 15),
        Action::Preempt(v) => 0x60 | (v & 15),
        Action::Idle => 0x70,
        Action::Migrate(v, c) if v < 4 && c < 4 => 0x80 | (v << 2 | c),
        Action::Migrate(v, c) => 0xC0 | ((v & 7) << 3 | (c & 7)),
        Action::Apicv => 0x90,
    }
}

/// Every action of a world with `n` vCPUs on `cores` cores (host CPUs `0..=cores`, the last
/// one the timer's).
pub(crate) fn all_actions(n: u8, cores: u8) -> Vec<Action> {
    let mut v = Vec::new();
    v.extend((0..n).map(Action::Thread));
    v.extend((0..n).map(Action::Guest));
    for c in 0..cores {
        v.extend((0..2).map(|p| Action::Complete(c, p)));
    }
    v.extend((0..=cores).map(Action::Drain));
    v.extend((0..n).map(Action::Timer));
    v.extend((0..n).map(Action::Preempt));
    for vc in 0..n {
        v.extend((0..cores).map(|c| Action::Migrate(vc, c)));
    }
    v.push(Action::Idle);
    v.push(Action::Apicv);
    v
}

/// Names of the `vcpu->mode` values.
pub(crate) const MODE_NAMES: [(u64, &str); 3] = [
    (crate::kvm::OUTSIDE_GUEST_MODE, "OUTSIDE_GUEST_MODE"),
    (crate::kvm::IN_GUEST_MODE, "IN_GUEST_MODE"),
    (crate::kvm::EXITING_GUEST_MODE, "EXITING_GUEST_MODE"),
];

/// States of `avic_ipi_sender.state_e`, in encoding order (checked against the RTL by a test).
pub(crate) const SENDER_STATES: [&str; 15] = [
    "StIdle",
    "StNext",
    "StLogReq",
    "StLogWait",
    "StEntReq",
    "StEntWait",
    "StDispatch",
    "StIrrRdReq",
    "StIrrRdWait",
    "StIrrReq",
    "StIrIsReq",
    "StIrIsWait",
    "StDecide",
    "StFinish",
    "StExit",
];

/// States of `avic_irq_eval.state_e`, in encoding order (checked against the RTL by a test).
pub(crate) const EVAL_STATES: [&str; 10] = [
    "StIdle",
    "StScanReq",
    "StScanWait",
    "StClrReq",
    "StClrWait",
    "StIsrReq",
    "StIsrWait",
    "StPresent",
    "StEoiReq",
    "StEoiWait",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_codes_follow_the_table_and_names_are_distinct() {
        let steps = all_steps();
        for (i, &pc) in steps.iter().enumerate() {
            assert_eq!(usize::from(step_code(pc)), i + 1, "{pc:?}");
        }
        let mut labels: Vec<String> = steps.iter().map(|&p| step_label(p)).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), steps.len());
    }

    #[test]
    fn action_codes_are_distinct() {
        let acts = all_actions(8, 8);
        let mut codes: Vec<u8> = acts.iter().map(|&a| action_code(a)).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), acts.len());
    }

    fn rtl_enum(file: &str) -> Vec<String> {
        let path = format!("{}/rtl/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("typedef enum logic [3:0] {").unwrap();
        let body = &text[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        body.split(',').map(|s| s.trim().to_string()).collect()
    }

    #[test]
    fn state_names_match_the_rtl_enums() {
        assert_eq!(rtl_enum("avic_ipi_sender.sv"), SENDER_STATES);
        assert_eq!(rtl_enum("avic_irq_eval.sv"), EVAL_STATES);
    }
}
