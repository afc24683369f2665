//! Unit tests of the step machines against a fake host context.
use super::*;
use crate::apic::*;
use crate::mem::{Memory, FULL_MASK};

/// A host context over a bare memory that records everything.
#[derive(Clone)]
struct Fake {
    mem: Memory,
    events: Vec<KvmEvent>,
    vmruns: Vec<u8>,
    doorbells: Vec<u16>,
    wakes: Vec<u8>,
    kicks: Vec<u8>,
    /// Address whose global value is recorded at every `wake_thread`.
    watch: u64,
    watched: Vec<u64>,
}

impl Fake {
    fn new(cfg: &KvmConfig) -> Self {
        let mut mem = Memory::new(cfg.layout.mem_size(cfg.n_vcpus), cfg.n_vcpus);
        for v in 0..cfg.n_vcpus {
            cfg.layout.init_vcpu(&mut mem, v).unwrap();
        }
        Fake {
            mem,
            events: Vec::new(),
            vmruns: Vec::new(),
            doorbells: Vec::new(),
            wakes: Vec::new(),
            kicks: Vec::new(),
            watch: 0,
            watched: Vec::new(),
        }
    }

    fn drain(&mut self, cpu: u8) {
        while self.mem.drain_one(cpu) {}
    }
}

impl HostCtx for Fake {
    fn mem(&mut self) -> &mut Memory {
        &mut self.mem
    }
    fn vmrun(&mut self, vcpu: u8, _cpu: u8, _avic: bool, _inject: Option<u8>) {
        self.vmruns.push(vcpu);
    }
    fn ring_doorbell(&mut self, host_id: u16) {
        self.doorbells.push(host_id);
    }
    fn wake_thread(&mut self, vcpu: u8) {
        self.wakes.push(vcpu);
        let w = self.mem.peek(self.watch).unwrap();
        self.watched.push(w);
    }
    fn kick_ipi(&mut self, host_cpu: u8) {
        self.kicks.push(host_cpu);
    }
    fn note(&mut self, ev: KvmEvent) {
        self.events.push(ev);
    }
}

/// Steps `th` until `stop(pc)` holds (checked after each step), at most 200 steps.
fn run_until(th: &mut VcpuThread, ctx: &mut Fake, stop: impl Fn(Pc) -> bool) {
    for _ in 0..200 {
        th.step(ctx).unwrap();
        if stop(th.pc()) {
            return;
        }
    }
    panic!("no stop after 200 steps, at {}", th.step_name());
}

fn entry(cfg: &KvmConfig, vcpu: u8, running: bool, host: u16) -> u64 {
    PhysEntry {
        valid: true,
        is_running: running,
        backing: cfg.layout.vm.backing(vcpu),
        host_id: host,
    }
    .encode()
}

/// A thread of `vcpu` loaded and in the guest, with its stores drained.
fn in_guest(cfg: &KvmConfig, ctx: &mut Fake, vcpu: u8) -> VcpuThread {
    let mut th = VcpuThread::new(*cfg, vcpu).unwrap();
    run_until(&mut th, ctx, |pc| pc == Pc::InGuest);
    ctx.drain(vcpu);
    let ir = cfg.variant != KvmVariant::V5;
    assert_eq!(
        ctx.mem.peek(cfg.layout.vm.phys_entry(vcpu)).unwrap(),
        entry(cfg, vcpu, ir, u16::from(vcpu))
    );
    th
}

#[test]
fn block_without_interrupt_sleeps_with_is_running_clear() {
    for v in KvmVariant::ALL {
        let cfg = KvmConfig::new(v, 2);
        let mut ctx = Fake::new(&cfg);
        let mut th = in_guest(&cfg, &mut ctx, 0);
        assert_eq!(ctx.vmruns, vec![0]);
        assert!(!th.runnable());
        th.on_exit(GuestExit::Hlt);
        run_until(&mut th, &mut ctx, |pc| pc == Pc::Sleeping);
        assert!(!th.runnable(), "{v:?}");
        assert_eq!(th.step_name(), "schedule:sleeping");
        // The fences of set_current_state / SRCU / schedule made the blocking IR=0 global.
        // V0-V1b's sleep-time avic_vcpu_put writes the entry once more (it has no
        // early return); V2+ return early because IsRunning is already 0.
        let again = matches!(v, KvmVariant::V0 | KvmVariant::V1 | KvmVariant::V1b);
        assert_eq!(ctx.mem.sb_len(0), usize::from(again), "{v:?}");
        ctx.drain(0);
        let l = cfg.layout;
        assert_eq!(
            ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
            entry(&cfg, 0, false, 0)
        );
        assert_eq!(ctx.mem.peek(l.wait_task(0)).unwrap(), 1);
        assert_eq!(ctx.mem.peek(l.task_state(0)).unwrap(), TASK_INTERRUPTIBLE);
        assert_eq!(ctx.mem.peek(l.mode(0)).unwrap(), OUTSIDE_GUEST_MODE);
        let tail: Vec<_> = ctx
            .events
            .iter()
            .rev()
            .filter(|e| !matches!(e, KvmEvent::AvicPut { .. }))
            .take(2)
            .copied()
            .collect();
        assert_eq!(
            tail,
            vec![
                KvmEvent::Sleep { vcpu: 0 },
                KvmEvent::CheckBlock {
                    vcpu: 0,
                    irr_seen: false
                }
            ],
            "{v:?}"
        );
        assert!(matches!(
            th.step(&mut ctx),
            Err(KvmError::NotRunnable { vcpu: 0, .. })
        ));
        // A wake-up brings it back to set_current_state.
        th.on_wake();
        assert_eq!(th.pc(), Pc::ScheduleKvmSchedIn);
    }
}

#[test]
fn block_with_irr_set_does_not_sleep() {
    for v in KvmVariant::ALL {
        let cfg = KvmConfig::new(v, 2);
        let mut ctx = Fake::new(&cfg);
        let l = cfg.layout;
        let mut th = in_guest(&cfg, &mut ctx, 0);
        ctx.mem
            .poke(irr_word(l.vm.backing(0), 0x41), vector_bit(0x41))
            .unwrap();
        th.on_exit(GuestExit::Hlt);
        run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
        ctx.drain(0);
        let ir = v != KvmVariant::V5;
        assert_eq!(
            ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
            entry(&cfg, 0, ir, 0),
            "{v:?}"
        );
        assert_eq!(ctx.mem.peek(l.wait_task(0)).unwrap(), 0);
        assert_eq!(ctx.mem.peek(l.task_state(0)).unwrap(), TASK_RUNNING);
        assert!(!ctx.events.contains(&KvmEvent::Sleep { vcpu: 0 }));
        assert!(ctx.events.contains(&KvmEvent::CheckBlock {
            vcpu: 0,
            irr_seen: true
        }));
        assert_eq!(ctx.events.last(), Some(&KvmEvent::Unblocked { vcpu: 0 }));
        // It goes on into the guest.
        run_until(&mut th, &mut ctx, |pc| pc == Pc::InGuest);
        assert_eq!(ctx.vmruns, vec![0, 0]);
    }
}

/// Explores every interleaving of the blocking thread's steps with drains of its store
/// buffer, from the HLT exit to `schedule()`. Returns whether some order has an IRR
/// register load happen while the table entry in global memory still says IsRunning=1.
/// `plain_scs`: `set_current_state` as a plain store, SRCU's fence B kept (no knob does
/// that; it isolates what fence B does).
fn irr_read_before_ir_clear_visible(knobs: Knobs, plain_scs: bool) -> bool {
    fn go(
        th: &VcpuThread,
        ctx: &Fake,
        cfg: &KvmConfig,
        plain_scs: bool,
        paths: &mut usize,
    ) -> bool {
        if matches!(th.pc(), Pc::Sleeping | Pc::FinishRcuwait) {
            *paths += 1;
            return false;
        }
        let entry_addr = cfg.layout.vm.phys_entry(0);
        let mut found = false;
        if ctx.mem.sb_len(0) > 0 {
            let mut c = ctx.clone();
            c.mem.drain_one(0);
            found |= go(th, &c, cfg, plain_scs, paths);
        }
        let mut t = th.clone();
        let mut c = ctx.clone();
        if let Pc::CheckBlockSearchIrr { .. } = t.pc() {
            let global = PhysEntry::decode(c.mem.peek(entry_addr).unwrap());
            let seen = c.mem.visible_to(0, entry_addr).unwrap();
            assert!(!PhysEntry::decode(seen).is_running);
            if global.is_running {
                found = true;
            }
        }
        if plain_scs && t.pc() == Pc::SetCurrentState {
            let a = cfg.layout.task_state(0);
            c.mem
                .host_store(0, a, TASK_INTERRUPTIBLE, FULL_MASK)
                .unwrap();
            t.pc = Pc::CheckBlockSrcuReadLock;
        } else {
            t.step(&mut c).unwrap();
        }
        found |= go(&t, &c, cfg, plain_scs, paths);
        found
    }
    let cfg = KvmConfig::new(KvmVariant::V2, 1).with_knobs(knobs);
    let mut ctx = Fake::new(&cfg);
    ctx.mem.set_logging(false);
    let mut th = in_guest(&cfg, &mut ctx, 0);
    th.on_exit(GuestExit::Hlt);
    th.step(&mut ctx).unwrap(); // mode = OUTSIDE_GUEST_MODE
    ctx.drain(0);
    assert_eq!(th.pc(), Pc::AvicVcpuBlocking);
    let mut paths = 0;
    let found = go(&th, &ctx, &cfg, plain_scs, &mut paths);
    assert!(paths > 1);
    found
}

#[test]
fn litmus_set_current_state_mb_orders_ir_clear_before_irr_read() {
    let knob = Knobs {
        no_block_fences: true,
        ..Knobs::default()
    };
    assert!(irr_read_before_ir_clear_visible(knob, false));
    assert!(!irr_read_before_ir_clear_visible(Knobs::default(), false));
}

/// SRCU's `smp_mb(); /* B */` in `kvm_vcpu_check_block`'s `srcu_read_lock` alone orders
/// the blocking IsRunning=0 store before the vIRR read: with `set_current_state` as a plain
/// store the store-buffering outcome is still impossible; with `no-block-fences` (both
/// fences gone) it is possible.
#[test]
fn litmus_srcu_read_lock_mb_orders_ir_clear_before_irr_read() {
    assert!(!irr_read_before_ir_clear_visible(Knobs::default(), true));
    let knob = Knobs {
        no_block_fences: true,
        ..Knobs::default()
    };
    // The knob makes set_current_state plain and skips B.
    assert!(irr_read_before_ir_clear_visible(knob, false));
}

/// vCPU 1 blocked (IR=0, waiting, TASK_INTERRUPTIBLE, `irr_pending` as given); vCPU 0
/// handles ID=1 for a fixed IPI of 0x41 to vCPU 1. Returns the context afterwards.
fn not_running_handler(cfg: &KvmConfig, irr_pending: u64) -> Fake {
    let l = cfg.layout;
    let mut ctx = Fake::new(cfg);
    ctx.watch = l.irr_pending(1);
    ctx.mem.poke(l.wait_task(1), 2).unwrap();
    ctx.mem.poke(l.task_state(1), TASK_INTERRUPTIBLE).unwrap();
    ctx.mem.poke(l.irr_pending(1), irr_pending).unwrap();
    let mut th = in_guest(cfg, &mut ctx, 0);
    let icr = Icr::fixed_physical(0x41, 1);
    let x = ExitInfo {
        icr_lo: icr.lo(),
        icr_hi: icr.hi(),
        cause_id: Cause::TargetNotRunning.id(),
        index: 1,
    };
    th.on_exit(GuestExit::IncompleteIpi {
        info1: x.info1(),
        info2: x.info2(),
    });
    run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
    ctx.drain(0);
    ctx
}

#[test]
fn target_not_running_handlers_differ_as_the_history_says() {
    let irr1 = |cfg: &KvmConfig, ctx: &Fake| {
        ctx.mem
            .peek(irr_word(cfg.layout.vm.backing(1), 0x41))
            .unwrap()
    };
    let woken = KvmEvent::WakeUp {
        from: 0,
        target: 1,
        woken: true,
    };

    // V1: re-emulation sets the IRR bit again (hardware's bit was already taken).
    let cfg = KvmConfig::new(KvmVariant::V1, 2);
    let ctx = not_running_handler(&cfg, 1);
    assert_eq!(irr1(&cfg, &ctx), 1 << 1);
    assert!(ctx.events.contains(&KvmEvent::SetIrr {
        from: 0,
        target: 1,
        vector: 0x41
    }));
    assert!(ctx.events.contains(&KvmEvent::ReEmulatedIcr {
        vcpu: 0,
        icr_lo: 0x41,
        icr_hi: 0x0100_0000
    }));
    assert!(ctx.events.contains(&woken));
    assert_eq!(ctx.wakes, vec![1]);
    let b0 = cfg.layout.vm.backing(0);
    assert_eq!(ctx.mem.peek(b0 + ICR_LO).unwrap(), 0x41);
    assert_eq!(ctx.mem.peek(b0 + ICR_HI).unwrap(), 0x0100_0000);
    assert_eq!(
        ctx.mem.peek(cfg.layout.task_state(1)).unwrap(),
        TASK_RUNNING
    );

    // V4: no IRR write at all; irr_pending set, target woken.
    let cfg = KvmConfig::new(KvmVariant::V4, 2);
    let ctx = not_running_handler(&cfg, 1);
    assert_eq!(irr1(&cfg, &ctx), 0);
    assert!(!ctx
        .events
        .iter()
        .any(|e| matches!(e, KvmEvent::SetIrr { .. })));
    assert_eq!(ctx.wakes, vec![1]);
    assert!(ctx.events.contains(&woken));

    // V3: irr_pending = true is globally visible before the wake-up.
    let cfg = KvmConfig::new(KvmVariant::V3, 2);
    let ctx = not_running_handler(&cfg, 0);
    assert_eq!(ctx.wakes, vec![1]);
    assert_eq!(ctx.watched, vec![1]);
    assert_eq!(ctx.mem.peek(cfg.layout.irr_pending(1)).unwrap(), 1);
    assert_eq!(irr1(&cfg, &ctx), 0);
    let ip = ctx
        .events
        .iter()
        .position(|e| *e == KvmEvent::IrrPending { from: 0, target: 1 })
        .unwrap();
    let wk = ctx.events.iter().position(|e| *e == woken).unwrap();
    assert!(ip < wk);

    // V3 with C4: the wake-up happens with irr_pending still false.
    let cfg = KvmConfig::new(KvmVariant::V3, 2).with_knobs(Knobs {
        no_irr_pending_update: true,
        ..Knobs::default()
    });
    let ctx = not_running_handler(&cfg, 0);
    assert_eq!(ctx.wakes, vec![1]);
    assert_eq!(ctx.watched, vec![0]);
    assert_eq!(ctx.mem.peek(cfg.layout.irr_pending(1)).unwrap(), 0);
    assert!(!ctx
        .events
        .iter()
        .any(|e| matches!(e, KvmEvent::IrrPending { .. })));
}

fn preempted_in_wait_loop(knobs: Knobs) -> (u64, Fake, VcpuThread) {
    let cfg = KvmConfig::new(KvmVariant::V2, 1).with_knobs(knobs);
    let mut ctx = Fake::new(&cfg);
    let mut th = in_guest(&cfg, &mut ctx, 0);
    th.on_exit(GuestExit::Hlt);
    run_until(&mut th, &mut ctx, |pc| pc == Pc::Schedule);
    assert!(th.preempt());
    assert_eq!(th.pc(), Pc::KvmSchedOut);
    assert!(!th.preempt());
    run_until(&mut th, &mut ctx, |pc| pc == Pc::Schedule);
    ctx.drain(0);
    let e = ctx.mem.peek(cfg.layout.vm.phys_entry(0)).unwrap();
    run_until(&mut th, &mut ctx, |pc| pc == Pc::Sleeping);
    (e, ctx, th)
}

#[test]
fn sched_in_while_blocking_keeps_is_running_clear_unless_c2() {
    let cfg = KvmConfig::new(KvmVariant::V2, 1);
    let (e, ctx, th) = preempted_in_wait_loop(Knobs::default());
    assert_eq!(e, entry(&cfg, 0, false, 0));
    assert!(ctx.events.contains(&KvmEvent::AvicLoadSkipped { vcpu: 0 }));
    assert!(th.sleeping());

    let (e, ctx, th) = preempted_in_wait_loop(Knobs {
        unconditional_running_on_load: true,
        ..Knobs::default()
    });
    assert_eq!(e, entry(&cfg, 0, true, 0));
    assert!(ctx.events.contains(&KvmEvent::AvicLoad {
        vcpu: 0,
        is_running: true
    }));
    // The C2 bug: IsRunning=1 after the last vIRR check, until schedule()'s
    // kvm_sched_out clears it again (through the store buffer).
    assert!(th.sleeping());
    assert_eq!(ctx.mem.sb_len(0), 1);
    let mut ctx = ctx;
    ctx.drain(0);
    let l = cfg.layout;
    assert_eq!(
        ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
        entry(&cfg, 0, false, 0)
    );

    // Without the sleep-time put (the model before issue 14): asleep with IsRunning=1.
    let (_, mut ctx, th) = preempted_in_wait_loop(Knobs {
        unconditional_running_on_load: true,
        no_sleep_put: true,
        ..Knobs::default()
    });
    assert!(th.sleeping());
    ctx.drain(0);
    assert_eq!(
        ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
        entry(&cfg, 0, true, 0)
    );
}

/// C2b at the step level (V2, V3, V3-fast): preempted right after `avic_vcpu_blocking`,
/// `kvm_sched_in` finds `wait.task` still NULL and sets IsRunning=1; the vIRR check finds
/// nothing; `schedule()`'s `kvm_sched_out` → `avic_vcpu_put` clears IsRunning again (a
/// buffered store), so the vCPU sleeps with IsRunning=0 once it drains. With
/// [`Knobs::no_sleep_put`] it sleeps with IsRunning=1. The wake-up runs `kvm_sched_in`,
/// which returns early while blocking (`af52f5aa5c1b`).
#[test]
fn sleep_time_put_clears_is_running_after_the_c2b_preemption() {
    for (v, no_sleep_put) in [
        (KvmVariant::V2, false),
        (KvmVariant::V3, false),
        (KvmVariant::V3Fast, false),
        (KvmVariant::V3, true),
    ] {
        let knobs = Knobs {
            no_sleep_put,
            ..Knobs::default()
        };
        let cfg = KvmConfig::new(v, 1).with_knobs(knobs);
        let l = cfg.layout;
        let mut ctx = Fake::new(&cfg);
        let mut th = in_guest(&cfg, &mut ctx, 0);
        th.on_exit(GuestExit::Hlt);
        run_until(&mut th, &mut ctx, |pc| pc == Pc::PrepareToRcuwait);
        assert!(th.preemptible(), "{v:?}: the C2b window");
        assert!(th.preempt());
        run_until(&mut th, &mut ctx, |pc| pc == Pc::PrepareToRcuwait);
        ctx.drain(0);
        assert_eq!(
            ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
            entry(&cfg, 0, true, 0)
        );
        run_until(&mut th, &mut ctx, |pc| pc == Pc::Sleeping);
        ctx.drain(0);
        assert_eq!(
            ctx.mem.peek(l.vm.phys_entry(0)).unwrap(),
            entry(&cfg, 0, no_sleep_put, 0),
            "{v:?} no_sleep_put={no_sleep_put}"
        );
        // Woken: kvm_sched_in returns early (blocking), the loop re-checks.
        ctx.mem.poke(l.task_state(0), TASK_RUNNING).unwrap();
        th.on_wake();
        let want = if no_sleep_put {
            Pc::ScheduleReturn
        } else {
            Pc::ScheduleKvmSchedIn
        };
        assert_eq!(th.pc(), want);
        run_until(&mut th, &mut ctx, |pc| pc == Pc::SetCurrentState);
        if !no_sleep_put {
            assert_eq!(
                ctx.events.last(),
                Some(&KvmEvent::Woken { vcpu: 0 }),
                "{v:?}"
            );
            assert!(ctx.events.contains(&KvmEvent::AvicLoadSkipped { vcpu: 0 }));
        }
    }
    // V4: not preemptible there (18869f26df1a).
    let cfg = KvmConfig::new(KvmVariant::V4, 1);
    let mut ctx = Fake::new(&cfg);
    let mut th = in_guest(&cfg, &mut ctx, 0);
    th.on_exit(GuestExit::Hlt);
    run_until(&mut th, &mut ctx, |pc| pc == Pc::PrepareToRcuwait);
    assert!(!th.preemptible());
}

/// A wake-up that lands while the sleep-time `kvm_sched_out` runs is not lost.
#[test]
fn wake_during_the_sleep_time_sched_out_is_kept() {
    let cfg = KvmConfig::new(KvmVariant::V0, 1);
    let l = cfg.layout;
    let mut ctx = Fake::new(&cfg);
    let mut th = in_guest(&cfg, &mut ctx, 0);
    th.on_exit(GuestExit::Hlt);
    run_until(&mut th, &mut ctx, |pc| pc == Pc::ScheduleKvmSchedOut);
    assert!(th.wakeable() && !th.sleeping());
    ctx.mem.poke(l.task_state(0), TASK_RUNNING).unwrap();
    th.on_wake();
    run_until(&mut th, &mut ctx, |pc| {
        pc != Pc::AvicVcpuPutStoreEntry {
            via: PutVia::Schedule,
        }
    });
    run_until(&mut th, &mut ctx, |pc| pc == Pc::SetCurrentState);
    assert!(!ctx.events.contains(&KvmEvent::Sleep { vcpu: 0 }));
}

#[test]
fn traits_table_and_target_decoding() {
    use KvmVariant::*;
    let t: Vec<_> = KvmVariant::ALL
        .iter()
        .map(|v| v.traits().not_running)
        .collect();
    assert_eq!(
        t,
        vec![
            NotRunningHandler::WakeIfNotRunning,
            NotRunningHandler::ReEmulateIcr,
            NotRunningHandler::ReEmulateIcr,
            NotRunningHandler::WakeAll,
            NotRunningHandler::KickWithIrrPending,
            NotRunningHandler::KickWithIrrPending,
            NotRunningHandler::KickWithIrrPending,
            NotRunningHandler::KickWithIrrPending,
        ]
    );
    assert!(V3Fast.traits().fast_path_518 && !V3.traits().fast_path_518);
    assert!(!V4.traits().fast_path_518 && !V3Fast.traits().rewrite_icr);
    assert!(V3Fast.traits().preemptible_block_hooks);
    assert_eq!(
        V1b.traits().not_running_delivery,
        NotRunningDelivery::KickWithRequest
    );
    assert!(!V5.traits().enable_ipiv && V4.traits().enable_ipiv);
    assert_eq!(V2.traits().delivery_key, DeliveryKey::VcpuMode);

    let cfg = KvmConfig::new(V0, 4);
    let d = |icr: Icr, s| decode_targets(&icr, s, &cfg).as_slice().to_vec();
    assert_eq!(d(Icr::fixed_physical(0x30, 2), 0), vec![2]);
    assert_eq!(d(Icr::fixed_physical(0x30, 9), 0), Vec::<u8>::new());
    assert_eq!(d(Icr::fixed_physical(0x30, 0xFF), 1), vec![0, 1, 2, 3]);
    assert_eq!(d(Icr::fixed_logical(0x30, 0b1010), 0), vec![1, 3]);
    let all_but = Icr {
        shorthand: Shorthand::AllExcludingSelf,
        ..Icr::fixed_physical(0x30, 0)
    };
    assert_eq!(d(all_but, 2), vec![0, 1, 3]);
}

#[test]
fn v1b_kicks_a_vcpu_in_guest_and_v2_rings_its_doorbell() {
    // vCPU 0 re-emulates (V1b, ID=0 path) a fixed IPI to vCPU 1, which is in the guest.
    let run = |v: KvmVariant, cause: Cause| {
        let cfg = KvmConfig::new(v, 2);
        let l = cfg.layout;
        let mut ctx = Fake::new(&cfg);
        let _t1 = in_guest(&cfg, &mut ctx, 1);
        ctx.mem.poke(l.mode(1), IN_GUEST_MODE).unwrap();
        let mut th = in_guest(&cfg, &mut ctx, 0);
        let icr = Icr::fixed_physical(0x50, 1);
        let x = ExitInfo {
            icr_lo: icr.lo(),
            icr_hi: icr.hi(),
            cause_id: cause.id(),
            index: 1,
        };
        th.on_exit(GuestExit::IncompleteIpi {
            info1: x.info1(),
            info2: x.info2(),
        });
        run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
        ctx
    };
    // V2, ID 0: delivered in software; target in guest -> doorbell to host 1.
    let ctx = run(KvmVariant::V2, Cause::InvalidIntType);
    assert_eq!(ctx.doorbells, vec![1]);
    assert!(ctx.kicks.is_empty());
    // V1b with the target's entry showing IsRunning=0 takes the request + kick path.
    let cfg = KvmConfig::new(KvmVariant::V1b, 2);
    let mut ctx = Fake::new(&cfg);
    let l = cfg.layout;
    ctx.mem.poke(l.mode(1), IN_GUEST_MODE).unwrap();
    let mut th = in_guest(&cfg, &mut ctx, 0);
    let icr = Icr::fixed_physical(0x50, 1);
    th.on_exit(GuestExit::IncompleteIpi {
        info1: u64::from(icr.hi()) << 32 | u64::from(icr.lo()),
        info2: 1 << 32 | 1,
    });
    run_until(&mut th, &mut ctx, |pc| pc == Pc::VcpuEnterGuestRequests);
    assert_eq!(ctx.kicks, vec![1]);
    assert_eq!(ctx.mem.peek(l.mode(1)).unwrap(), EXITING_GUEST_MODE);
    assert_eq!(ctx.mem.peek(l.requests(1)).unwrap(), 1 << KVM_REQ_EVENT_BIT);
    // V0 ignores INVALID_TARGET; V4 emulates it.
    let ctx = run(KvmVariant::V0, Cause::InvalidTarget);
    assert!(ctx.events.contains(&KvmEvent::IgnoredIncompleteIpi {
        vcpu: 0,
        cause_id: 2
    }));
    let ctx = run(KvmVariant::V4, Cause::InvalidTarget);
    assert_eq!(ctx.doorbells, vec![1]);
}
