//! `Dut`: the Verilated `avic_top` with a memory that answers its ports.
//!
//! Each call of [`Dut::step`] is one clock cycle and one FFI call. Before the edge the `Dut`
//! decides, per port, whether to accept the request on offer (`req_ready`) and whether to
//! complete the outstanding one (`rsp_valid`); a completed transaction acts on [`Memory`] at that
//! moment, so completion order is visibility order. By default every request is accepted at once
//! and completes `latency` cycles later; [`Dut::hold`] keeps one port's transaction in flight so a
//! test (or the world's schedule) can choose the order across ports.

use crate::ffi::{self, AutoStop, CoreIn, HwConfig, ModelKind, PortReq, TopIn, TopOut};
use crate::mem::{MemError, MemSnapshot, Memory};
use crate::rtl::{Coverage, Flavor, Rtl, RtlError, UserModel};
use cxx::UniquePtr;
use std::fmt;
use std::sync::Arc;

impl AutoStop {
    /// Return to Rust after any cycle with an event: exit, doorbell, interrupt taken, doorbell
    /// dropped, or a sender going idle.
    pub const EVERY_EVENT: AutoStop = AutoStop {
        exit: true,
        doorbell: true,
        intr: true,
        db_drop: true,
        idle: true,
    };
}

/// Most cores a model may have: the room in the port structs of `bindings/ffi.rs` (and
/// `kMaxCores` of `tb/cpp/responder.h`); every per-core array of the harness has this size and
/// uses its first [`Dut::cores`] entries.
pub const MAX_CORES: usize = 8;

/// `avic_top`'s core count by default: the default of its `NumCores` parameter in
/// `rtl/avic_top.sv`, read by build.rs (the one place it is written).
pub const DEFAULT_CORES: usize = parse_cores(env!("AVIC_DEFAULT_CORES"));

/// `"4"` -> 4, at compile time (build.rs wrote the number; it checked the range too).
const fn parse_cores(s: &str) -> usize {
    match usize::from_str_radix(s, 10) {
        Ok(n) if n >= 1 && n <= MAX_CORES => n,
        _ => panic!("AVIC_DEFAULT_CORES must be a number in 1..=8"),
    }
}

/// Memory ports per core.
pub const NUM_PORTS: usize = 3;
/// Port numbers (`avic_pkg::PortIrr`, `PortTbl`, `PortRcv`).
pub const PORT_IRR: usize = 0;
/// Physical/Logical APIC ID table reads.
pub const PORT_TBL: usize = 1;
/// Receiver: IRR scan, IRR to ISR, EOI.
pub const PORT_RCV: usize = 2;

/// Errors of a simulation run.
#[derive(Debug, thiserror::Error)]
pub enum DutError {
    /// Verilator reported an error ($stop, $fatal, failed assertion) during a cycle.
    #[error("RTL error at cycle {cycle}: {msg}")]
    Rtl {
        /// Cycle being simulated.
        cycle: u64,
        /// What Verilator said.
        msg: String,
    },
    /// A port request addressed memory outside the simulated range.
    #[error("cycle {cycle}: core {core} port {port}: {source}")]
    Mem {
        /// Cycle of the access.
        cycle: u64,
        /// Core.
        core: usize,
        /// Port.
        port: usize,
        /// The memory error.
        source: MemError,
    },
    /// The model could not be created or could not open its waveform.
    #[error("{0}")]
    Setup(String),
    /// A user's RTL could not be built or loaded.
    #[error(transparent)]
    Build(#[from] RtlError),
    /// The RTL's outputs broke the port contract (docs/port-contract.md).
    #[error("port contract: cycle {cycle}: core {core}: {signal} {what}")]
    Contract {
        /// Cycle of the output.
        cycle: u64,
        /// Core whose output it is.
        core: usize,
        /// The output signal.
        signal: &'static str,
        /// What is wrong.
        what: String,
    },
    /// A wait did not end.
    #[error("timeout after {cycles} cycles waiting for {what}")]
    Timeout {
        /// Cycles waited.
        cycles: u64,
        /// The condition.
        what: &'static str,
    },
}

/// Memory operation codes of `avic_pkg::mem_op_e`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemOp {
    /// Read a word.
    Read,
    /// Byte-masked write.
    Write,
    /// Locked set of `wdata`'s bits; returns the old word.
    LockSet,
    /// Locked clear of `wdata`'s bits; returns the old word.
    LockClr,
}

impl MemOp {
    /// Decodes the 2-bit port encoding.
    pub fn from_code(op: u8) -> Self {
        match op & 3 {
            0 => MemOp::Read,
            1 => MemOp::Write,
            2 => MemOp::LockSet,
            _ => MemOp::LockClr,
        }
    }
}

/// One completed port transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Txn {
    /// Cycle whose edge accepted the request.
    pub accepted: u64,
    /// Cycle whose edge completed it (when it became visible).
    pub completed: u64,
    /// Core.
    pub core: usize,
    /// Port.
    pub port: usize,
    /// Operation.
    pub op: MemOp,
    /// Word address.
    pub addr: u64,
    /// Write data or bit mask.
    pub wdata: u64,
    /// Word before the transaction (the response data).
    pub old: u64,
}

impl fmt::Display for Txn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = ["irr", "tbl", "rcv"][self.port];
        write!(
            f,
            "cycle {:4}  core{}.{port}  {:<8} {:#07x}",
            self.completed,
            self.core,
            format!("{:?}", self.op),
            self.addr
        )?;
        match self.op {
            MemOp::Read => write!(f, " -> {:#018x}", self.old),
            _ => write!(f, " {:#018x} (was {:#018x})", self.wdata, self.old),
        }
    }
}

/// Something the RTL did that software reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DutEvent {
    /// #VMEXIT from the sender of `core`.
    Exit {
        /// Cycle.
        cycle: u64,
        /// Sending core.
        core: usize,
        /// Exit code (0x401).
        code: u16,
        /// EXITINFO1.
        info1: u64,
        /// EXITINFO2.
        info2: u64,
    },
    /// Doorbell rung by `core` to host APIC ID `host_id`.
    Doorbell {
        /// Cycle.
        cycle: u64,
        /// Sending core.
        core: usize,
        /// Destination host physical APIC ID.
        host_id: u16,
    },
    /// A doorbell reached `core` while it was in host mode and was dropped.
    DoorbellDropped {
        /// Cycle.
        cycle: u64,
        /// Receiving core.
        core: usize,
    },
    /// The guest on `core` took `vector` (IRR to ISR).
    Interrupt {
        /// Cycle.
        cycle: u64,
        /// Core.
        core: usize,
        /// Vector.
        vector: u8,
    },
}

#[derive(Clone, Copy, Debug, Default)]
struct Flight {
    req: PortReq,
    accepted: u64,
    busy: bool,
    held: bool,
}

/// The model behind a [`Dut`]: one of the bundled builds, or a user's RTL loaded at run time.
/// Both take the same port structs; the per-cycle cost of the choice is one branch.
enum Backend {
    Bundled(UniquePtr<ffi::Model>),
    /// With the coverage its counters go to when dropped.
    User(UserModel, Option<Arc<Coverage>>),
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::User(m, Some(c)) = self {
            c.absorb(m);
        }
    }
}

impl Backend {
    #[inline]
    fn step(&mut self, inp: &TopIn, out: &mut TopOut) -> Result<(), String> {
        match self {
            Backend::Bundled(m) => m.pin_mut().step(inp, out).map_err(|e| e.what().to_string()),
            Backend::User(m, _) => m.step(inp, out),
        }
    }

    fn step_n(&mut self, inp: &TopIn, n: u64, out: &mut TopOut) -> Result<(), String> {
        match self {
            Backend::Bundled(m) => m
                .pin_mut()
                .step_n(inp, n, out)
                .map_err(|e| e.what().to_string()),
            Backend::User(m, _) => m.step_n(inp, n, out),
        }
    }

    fn open_trace(&mut self, path: &str) -> Result<(), String> {
        match self {
            Backend::Bundled(m) => m
                .pin_mut()
                .open_trace(path)
                .map_err(|e| e.what().to_string()),
            Backend::User(m, _) => m.open_trace(path),
        }
    }

    fn close_trace(&mut self) {
        match self {
            Backend::Bundled(m) => m.pin_mut().close_trace(),
            Backend::User(m, _) => m.close_trace(),
        }
    }

    /// The cores the model was verilated with.
    fn num_cores(&self) -> usize {
        match self {
            Backend::Bundled(_) => ffi::num_cores(),
            Backend::User(m, _) => m.num_cores(),
        }
    }

    #[inline]
    fn cycles(&self) -> u64 {
        match self {
            Backend::Bundled(m) => m.cycles(),
            Backend::User(m, _) => m.cycles(),
        }
    }

    /// Saves the model's state into `buf` (resized to it). Savable bundled builds only.
    fn save(&self, buf: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Backend::Bundled(m) => {
                let n = m.save(buf).map_err(|e| e.what().to_string())?;
                if n > buf.len() {
                    buf.resize(n, 0);
                    m.save(buf).map_err(|e| e.what().to_string())?;
                }
                buf.truncate(n);
                Ok(())
            }
            Backend::User(..) => Err(NOT_SAVABLE.to_string()),
        }
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        match self {
            Backend::Bundled(m) => m.pin_mut().restore(state).map_err(|e| e.what().to_string()),
            Backend::User(..) => Err(NOT_SAVABLE.to_string()),
        }
    }

    fn auto_load(&mut self, words: &[u64]) {
        match self {
            Backend::Bundled(m) => m.pin_mut().auto_load(words),
            Backend::User(m, _) => m.auto_load(words),
        }
    }

    fn auto_word(&self, addr: u64) -> Result<u64, String> {
        match self {
            Backend::Bundled(m) => m.auto_word(addr).map_err(|e| e.what().to_string()),
            Backend::User(m, _) => m.auto_word(addr),
        }
    }

    fn auto_in_flight(&self) -> u32 {
        match self {
            Backend::Bundled(m) => m.auto_in_flight(),
            Backend::User(m, _) => m.auto_in_flight(),
        }
    }

    fn run_autonomous(
        &mut self,
        inp: &TopIn,
        n: u64,
        stop: &AutoStop,
        out: &mut TopOut,
    ) -> Result<u64, String> {
        match self {
            Backend::Bundled(m) => m
                .pin_mut()
                .run_autonomous(inp, n, stop, out)
                .map_err(|e| e.what().to_string()),
            Backend::User(m, _) => m.run_autonomous(inp, n, stop, out),
        }
    }
}

/// Why a user's RTL cannot be snapshot.
const NOT_SAVABLE: &str =
    "snapshots need the bundled RTL's Savable build (a user's RTL is built without --savable)";

/// A [`Dut`] saved by [`Dut::snapshot`]: the model's state (Verilator `--savable` bytes) and
/// the Rust side's (inputs, outputs, transactions in flight and held, the transaction and event
/// logs, the memory with its store buffers and ordering watch).
#[derive(Clone, Debug)]
pub struct DutSnapshot {
    rtl: Vec<u8>,
    inp: TopIn,
    out: TopOut,
    mem: MemSnapshot,
    flight: [[Flight; NUM_PORTS]; MAX_CORES],
    stalled: [[bool; NUM_PORTS]; MAX_CORES],
    latency: u64,
    txns: Vec<Txn>,
    events: Vec<DutEvent>,
}

impl DutSnapshot {
    /// Size of the model's saved state in bytes.
    pub fn rtl_bytes(&self) -> usize {
        self.rtl.len()
    }

    /// The memory's saved state.
    pub fn mem(&self) -> &MemSnapshot {
        &self.mem
    }
}

/// Replaces `dst`'s contents by `src`'s, keeping (or growing to) `cap` elements of capacity so
/// that the loop that fills it next does not allocate.
pub(crate) fn refill<T: Clone>(dst: &mut Vec<T>, src: &[T], cap: usize) {
    dst.clear();
    dst.reserve(cap.max(src.len()));
    dst.extend_from_slice(src);
}

/// Capacity of the transaction log reserved at construction.
const TXN_CAPACITY: usize = 1024;
/// Capacity of the event log reserved at construction.
const EVENT_CAPACITY: usize = 256;

/// The Verilated model, its inputs and outputs, and the memory behind its ports.
pub struct Dut {
    model: Backend,
    /// Inputs applied at the next [`Dut::step`]. Pulses (`icr_wr`, `vmrun`, `eoi`, `sw_doorbell`) are cleared
    /// after each step.
    pub inp: TopIn,
    /// Outputs after the last step.
    pub out: TopOut,
    /// The memory the ports act on.
    pub mem: Memory,
    flight: [[Flight; NUM_PORTS]; MAX_CORES],
    stalled: [[bool; NUM_PORTS]; MAX_CORES],
    /// Cycles from acceptance to completion when not held (at least 1).
    pub latency: u64,
    txns: Vec<Txn>,
    events: Vec<DutEvent>,
    /// The model's core count (1..=[`MAX_CORES`]).
    cores: usize,
}

fn rtl_err(cycle: u64, msg: String) -> DutError {
    DutError::Rtl { cycle, msg }
}

impl Dut {
    /// A model of the given build, reset with `cfg`, over `mem`.
    pub fn new(kind: ModelKind, cfg: HwConfig, mem: Memory) -> Result<Self, DutError> {
        Dut::with_rtl(&Rtl::Bundled, kind, cfg, mem)
    }

    /// A model of `rtl` (the bundled RTL, or a user's, built or taken from the cache on first
    /// use) in the given build, reset with `cfg`, over `mem`.
    pub fn with_rtl(
        rtl: &Rtl,
        kind: ModelKind,
        cfg: HwConfig,
        mem: Memory,
    ) -> Result<Self, DutError> {
        let model = match rtl {
            Rtl::Bundled => Backend::Bundled(
                ffi::new_model(kind).map_err(|e| DutError::Setup(e.what().to_string()))?,
            ),
            Rtl::User(u) => {
                let lib = u.load(Flavor::from(kind))?;
                Backend::User(UserModel::new(lib).map_err(DutError::Setup)?, None)
            }
            Rtl::Coverage(c) if kind == ModelKind::Plain => {
                Backend::User(c.instance().map_err(DutError::Setup)?, Some(c.clone()))
            }
            Rtl::Coverage(c) if c.rtl().is_bundled() => Backend::Bundled(
                ffi::new_model(kind).map_err(|e| DutError::Setup(e.what().to_string()))?,
            ),
            Rtl::Coverage(c) => {
                let lib = c.rtl().load(Flavor::from(kind))?;
                Backend::User(UserModel::new(lib).map_err(DutError::Setup)?, None)
            }
        };
        Dut::from_backend(model, cfg, mem)
    }

    /// A user's model instance (for example of a coverage build), reset with `cfg`, over `mem`.
    pub fn with_user_model(model: UserModel, cfg: HwConfig, mem: Memory) -> Result<Self, DutError> {
        Dut::from_backend(Backend::User(model, None), cfg, mem)
    }

    fn from_backend(model: Backend, cfg: HwConfig, mem: Memory) -> Result<Self, DutError> {
        let cores = model.num_cores();
        if cores == 0 || cores > MAX_CORES {
            return Err(DutError::Setup(format!(
                "the model has {cores} cores (NumCores): 1 to {MAX_CORES} are supported"
            )));
        }
        let mut dut = Dut {
            model,
            inp: TopIn {
                cfg,
                ..TopIn::default()
            },
            out: TopOut::default(),
            mem,
            flight: Default::default(),
            stalled: Default::default(),
            latency: 1,
            txns: Vec::with_capacity(TXN_CAPACITY),
            events: Vec::with_capacity(EVENT_CAPACITY),
            cores,
        };
        dut.reset()?;
        Ok(dut)
    }

    /// The model's core count: its `NumCores`, 1..=[`MAX_CORES`]. Core `c` has host APIC ID
    /// `c`; the port structs' entries `cores..MAX_CORES` are unused.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// Holds reset for two cycles (sampling the configuration) and releases it.
    pub fn reset(&mut self) -> Result<(), DutError> {
        self.inp.rst_n = false;
        self.flight = Default::default();
        self.model
            .step_n(&self.inp, 2, &mut self.out)
            .map_err(|e| rtl_err(0, e))?;
        self.inp.rst_n = true;
        Ok(())
    }

    /// Saves the whole `Dut`: the model must be the bundled RTL's [`ModelKind::Savable`] build.
    /// The batched responder's memory ([`Dut::load_autonomous`]) and a waveform are not saved.
    pub fn snapshot(&self) -> Result<DutSnapshot, DutError> {
        let mut rtl = Vec::new();
        self.model
            .save(&mut rtl)
            .map_err(|e| rtl_err(self.cycle(), e))?;
        Ok(DutSnapshot {
            rtl,
            inp: self.inp,
            out: self.out,
            mem: self.mem.snapshot(),
            flight: self.flight,
            stalled: self.stalled,
            latency: self.latency,
            txns: self.txns.clone(),
            events: self.events.clone(),
        })
    }

    /// Puts this `Dut` back in the state `s` holds (taken from this `Dut` or another Savable one
    /// of the same RTL). On an error from the model (bytes of another model), the model's state
    /// is undefined until a restore succeeds.
    pub fn restore(&mut self, s: &DutSnapshot) -> Result<(), DutError> {
        self.model
            .restore(&s.rtl)
            .map_err(|e| rtl_err(self.cycle(), e))?;
        self.inp = s.inp;
        self.out = s.out;
        self.mem
            .restore(&s.mem)
            .map_err(|e| DutError::Setup(e.to_string()))?;
        self.flight = s.flight;
        self.stalled = s.stalled;
        self.latency = s.latency;
        refill(&mut self.txns, &s.txns, TXN_CAPACITY);
        refill(&mut self.events, &s.events, EVENT_CAPACITY);
        Ok(())
    }

    /// Starts writing a waveform; the model must be a `Vcd` or `Fst` build.
    pub fn open_trace(&mut self, path: &str) -> Result<(), DutError> {
        self.model.open_trace(path).map_err(DutError::Setup)
    }

    /// Flushes and closes the waveform.
    pub fn close_trace(&mut self) {
        self.model.close_trace();
    }

    /// Cycles stepped, reset included.
    pub fn cycle(&self) -> u64 {
        self.model.cycles()
    }

    /// Inputs of one core.
    pub fn core(&mut self, c: usize) -> &mut CoreIn {
        &mut self.inp.core[c]
    }

    /// Keeps (true) or lets go (false) the transaction in flight on a port: a held transaction
    /// is accepted but does not complete.
    pub fn hold(&mut self, core: usize, port: usize, held: bool) {
        self.flight[core][port].held = held;
        self.stalled[core][port] = held;
    }

    /// Lets the held transaction on a port complete at the next step (if accepted at least one
    /// cycle before); transactions accepted later on that port are held again.
    pub fn release(&mut self, core: usize, port: usize) {
        self.flight[core][port].held = false;
    }

    /// Whether a port's transaction is accepted, held, and could complete at the next step.
    pub fn completable(&self, core: usize, port: usize) -> bool {
        let f = &self.flight[core][port];
        f.busy && f.held && f.accepted < self.model.cycles()
    }

    /// Whether a port has an accepted transaction that has not completed.
    pub fn in_flight(&self, core: usize, port: usize) -> bool {
        self.flight[core][port].busy
    }

    /// The accepted, not yet completed request on a port.
    pub fn request(&self, core: usize, port: usize) -> Option<&PortReq> {
        let f = &self.flight[core][port];
        f.busy.then_some(&f.req)
    }

    /// Guest write of ICR (high, then the triggering low) on `core`, applied at the next step.
    pub fn write_icr(&mut self, core: usize, lo: u32, hi: u32) {
        let c = &mut self.inp.core[core];
        c.icr_wr = true;
        c.icr_lo = lo;
        c.icr_hi = hi;
    }

    /// Completed transactions, in completion order.
    pub fn txns(&self) -> &[Txn] {
        &self.txns
    }

    /// RTL events, in cycle order.
    pub fn events(&self) -> &[DutEvent] {
        &self.events
    }

    /// Forgets the transaction and event logs.
    pub fn clear_logs(&mut self) {
        self.txns.clear();
        self.events.clear();
    }

    /// One clock cycle: complete and accept port transactions, step the model, record events.
    pub fn step(&mut self) -> Result<(), DutError> {
        let cycle = self.model.cycles();
        self.mem.set_cycle(cycle);
        for c in 0..self.cores {
            for p in 0..NUM_PORTS {
                self.service_port(cycle, c, p)?;
            }
        }
        self.model
            .step(&self.inp, &mut self.out)
            .map_err(|e| rtl_err(cycle, e))?;
        self.after_step(Some(cycle));
        Ok(())
    }

    /// After a step: pulse inputs last one cycle; the outputs' events are recorded as of
    /// `cycle` (none if no cycle ran).
    fn after_step(&mut self, cycle: Option<u64>) {
        for c in 0..self.cores {
            let ci = &mut self.inp.core[c];
            ci.icr_wr = false;
            ci.vmrun = false;
            ci.eoi = false;
            ci.sw_doorbell = false;
            if let Some(cycle) = cycle {
                self.record(cycle, c);
            }
        }
    }

    /// One clock cycle with `inp` applied exactly as it is: no port servicing, no event
    /// recording. For testbenches that drive the port handshakes themselves.
    pub fn step_raw(&mut self) -> Result<(), DutError> {
        let cycle = self.model.cycles();
        self.model
            .step(&self.inp, &mut self.out)
            .map_err(|e| rtl_err(cycle, e))
    }

    /// `n` clock cycles with `inp` held, in one FFI call: no port servicing, no event recording.
    pub fn step_n_raw(&mut self, n: u64) -> Result<(), DutError> {
        let cycle = self.model.cycles();
        self.model
            .step_n(&self.inp, n, &mut self.out)
            .map_err(|e| rtl_err(cycle, e))
    }

    /// Batched mode: copies the global words of [`Dut::mem`] (not the store buffers) into the
    /// C++ memory responder that [`Dut::run_autonomous`] uses. Fails while a port has a
    /// transaction in flight on the Rust side.
    pub fn load_autonomous(&mut self) -> Result<(), DutError> {
        self.no_rust_flight()?;
        let words = (0..self.mem.size_bytes() / 8)
            .map(|i| self.mem.peek(8 * i))
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|e| DutError::Setup(e.to_string()))?;
        self.model.auto_load(&words);
        Ok(())
    }

    /// Batched mode: up to `n` cycles in one FFI call, every port answered by the C++
    /// responder (`tb/cpp/responder.h`: latency 1, its own memory loaded by
    /// [`Dut::load_autonomous`]), returning after the first cycle that shows an event of
    /// `stop`. The inputs' pulses apply to the first cycle only and are cleared, as by
    /// [`Dut::step`]. The events of the last cycle are recorded (so with every kind in `stop`,
    /// [`Dut::events`] is complete); transactions are not logged, [`Dut::hold`] does not apply
    /// and [`Dut::mem`] is not updated. Do not go back to [`Dut::step`] while
    /// [`Dut::autonomous_in_flight`] is non-zero. Returns the cycles run.
    pub fn run_autonomous(&mut self, n: u64, stop: &AutoStop) -> Result<u64, DutError> {
        self.no_rust_flight()?;
        let cycle = self.model.cycles();
        let ran = self
            .model
            .run_autonomous(&self.inp, n, stop, &mut self.out)
            .map_err(|e| rtl_err(cycle, e))?;
        self.after_step((ran > 0).then(|| cycle + ran - 1));
        Ok(ran)
    }

    /// The C++ responder memory's word at byte address `addr`.
    pub fn autonomous_word(&self, addr: u64) -> Result<u64, DutError> {
        self.model.auto_word(addr).map_err(DutError::Setup)
    }

    /// Ports with a transaction in flight in the C++ responder (bit `core * 3 + port`).
    pub fn autonomous_in_flight(&self) -> u32 {
        self.model.auto_in_flight()
    }

    fn no_rust_flight(&self) -> Result<(), DutError> {
        if self.flight.iter().flatten().any(|f| f.busy) {
            return Err(DutError::Setup(
                "a port has a transaction in flight under Dut::step; run until quiet first".into(),
            ));
        }
        Ok(())
    }

    /// Steps `n` cycles.
    pub fn run(&mut self, n: u64) -> Result<(), DutError> {
        for _ in 0..n {
            self.step()?;
        }
        Ok(())
    }

    /// Steps until every sender is idle and no transaction is in flight (or `max` cycles).
    pub fn run_until_quiet(&mut self, max: u64) -> Result<u64, DutError> {
        for n in 0..max {
            let busy = self
                .out
                .core
                .iter()
                .any(|c| c.busy || c.port.iter().any(|p| p.valid))
                || self.flight.iter().flatten().any(|f| f.busy);
            if !busy && n > 0 {
                return Ok(n);
            }
            self.step()?;
        }
        Err(DutError::Timeout {
            cycles: max,
            what: "the RTL to go quiet",
        })
    }

    fn service_port(&mut self, cycle: u64, c: usize, p: usize) -> Result<(), DutError> {
        let f = self.flight[c][p];
        let rsp = &mut self.inp.core[c].port[p];
        rsp.req_ready = false;
        rsp.rsp_valid = false;
        if f.busy {
            if !f.held && cycle >= f.accepted + self.latency.max(1) {
                let old = perform(&mut self.mem, c, p, &f.req).map_err(|source| DutError::Mem {
                    cycle,
                    core: c,
                    port: p,
                    source,
                })?;
                rsp.rsp_valid = true;
                rsp.rdata = old;
                self.flight[c][p].busy = false;
                self.txns.push(Txn {
                    accepted: f.accepted,
                    completed: cycle,
                    core: c,
                    port: p,
                    op: MemOp::from_code(f.req.op),
                    addr: f.req.addr,
                    wdata: f.req.wdata,
                    old,
                });
            }
        } else if self.out.core[c].port[p].valid {
            rsp.req_ready = true;
            self.flight[c][p] = Flight {
                req: self.out.core[c].port[p],
                accepted: cycle,
                busy: true,
                held: self.stalled[c][p],
            };
        }
        Ok(())
    }

    fn record(&mut self, cycle: u64, c: usize) {
        let o = self.out.core[c];
        if o.exit_valid {
            self.events.push(DutEvent::Exit {
                cycle,
                core: c,
                code: o.exit_code,
                info1: o.exit_info1,
                info2: o.exit_info2,
            });
        }
        if o.doorbell_valid {
            self.events.push(DutEvent::Doorbell {
                cycle,
                core: c,
                host_id: o.doorbell_host_id,
            });
        }
        if o.db_drop {
            self.events
                .push(DutEvent::DoorbellDropped { cycle, core: c });
        }
        if o.intr_valid {
            self.events.push(DutEvent::Interrupt {
                cycle,
                core: c,
                vector: o.intr_vec,
            });
        }
    }
}

/// Applies one port transaction to memory; returns the word before it (the response data).
pub fn perform(mem: &mut Memory, core: usize, port: usize, req: &PortReq) -> Result<u64, MemError> {
    let (c, p) = (core as u8, port as u8);
    match MemOp::from_code(req.op) {
        MemOp::Read => mem.rtl_read(c, p, req.addr),
        MemOp::Write => {
            let old = mem.peek(req.addr)?;
            mem.rtl_write(c, p, req.addr, req.wdata, req.mask)?;
            Ok(old)
        }
        MemOp::LockSet => mem.rtl_lock_set(c, p, req.addr, req.wdata),
        MemOp::LockClr => mem.rtl_lock_clear(c, p, req.addr, req.wdata),
    }
}
