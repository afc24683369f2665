//! The per-cycle loop allocates nothing: a counting global allocator (this test binary only)
//! counts heap allocations made by the running thread between `World::new` and the end of
//! `World::run`. Buffers are reserved at construction; the loop only fills them. The same holds
//! for a run resumed from a snapshot (`World::restore` reserves them again).

use avic_cosim::apic::Icr;
use avic_cosim::ffi::{HwConfig, ModelKind};
use avic_cosim::guest::GuestOp;
use avic_cosim::kvm::KvmVariant;
use avic_cosim::scenario::Scenario;
use avic_cosim::sched::{Policy, Schedule};
use avic_cosim::sim::{Snapshot, Verdict, World};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

/// One IPI to a vCPU that halts and has a timer.
fn scenario() -> Scenario {
    Scenario::new(2, KvmVariant::V3)
        .hw(HwConfig {
            atomic_irr: true,
            ..HwConfig::default()
        })
        .program(0, &[GuestOp::SendIpi(Icr::fixed_physical(0x40, 1))])
        .program(1, &[GuestOp::Halt])
        .timer(1)
}

#[test]
fn a_whole_run_allocates_nothing_after_construction() {
    let sc = scenario();
    for seed in 0..20 {
        let world = World::new(&sc, ModelKind::Plain).unwrap();
        let sched = Schedule {
            prefix: Vec::new(),
            policy: Policy::Pct {
                seed,
                depth: 3,
                steps: 100,
            },
        };
        let mut out = None;
        let n = allocations_during(|| out = Some(world.run(&sched).unwrap()));
        let out = out.unwrap();
        assert_eq!(out.verdict, Verdict::Holds);
        assert!(
            out.cycles > 60,
            "the run did real work: {} cycles",
            out.cycles
        );
        assert_eq!(
            n, 0,
            "seed {seed}: {n} heap allocations in a run of {} cycles",
            out.cycles
        );
    }
}

#[test]
fn a_run_resumed_from_a_snapshot_allocates_nothing_after_the_restore() {
    let sc = scenario();
    let mut world = World::new(&sc, ModelKind::Savable).unwrap();
    let mut saved: Vec<Snapshot> = Vec::new();
    world
        .run_observed(&Schedule::continuing(), |w| {
            saved.push(w.snapshot()?);
            Ok(())
        })
        .unwrap();
    assert!(saved.len() > 5, "{} choice points", saved.len());
    for (j, s) in saved.iter().enumerate() {
        world.restore(s).unwrap();
        let sched = Schedule::replay(&[vec![0; j], vec![1]].concat());
        let mut out = None;
        let n = allocations_during(|| out = Some(world.run_observed(&sched, |_| Ok(())).unwrap()));
        let out = out.unwrap();
        assert!(out.cycles > 30, "{} cycles", out.cycles);
        assert_eq!(n, 0, "point {j}: {n} heap allocations in a resumed run");
    }
}

#[test]
fn the_counter_sees_allocations() {
    // The instrument itself: a Vec growing past its capacity is counted.
    let n = allocations_during(|| {
        let mut v: Vec<u64> = Vec::with_capacity(1);
        v.extend(0..100);
        std::hint::black_box(&v);
    });
    assert!(n >= 2, "{n}");
}
