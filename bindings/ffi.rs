//! The `cxx` bridge to the Verilated AVIC model (`bindings/shim.cpp`).
//!
//! Kept in a file of its own so that editing the harness or the testbenches does not recompile
//! C++: `build.rs` reruns only when this file, the shim or the RTL changes. All ports travel in
//! one struct each way, so one FFI call carries a whole cycle (per-port accessors cost 4x,
//! ../shared/spec/verilator-notes.md section 2).

#[cxx::bridge(namespace = "avic")]
pub mod ffi {
    /// A memory request presented by the RTL on one port (docs/port-contract.md).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PortReq {
        pub valid: bool,
        /// `avic_pkg::mem_op_e`: 0 read, 1 write, 2 locked set-bit, 3 locked clear-bit.
        pub op: u8,
        pub addr: u64,
        pub wdata: u64,
        pub mask: u8,
    }

    /// The harness's answer on one port this cycle.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PortRsp {
        /// Accept the request presented this cycle.
        pub req_ready: bool,
        /// Complete the outstanding request this cycle, with `rdata`.
        pub rsp_valid: bool,
        pub rdata: u64,
    }

    /// Per-core inputs: the vCPU the core runs and what its guest does this cycle.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CoreIn {
        pub guest_mode: bool,
        pub vmrun: bool,
        /// Port contract v2: drives `avic_en_i` low (AVIC off for the guest entered; taken
        /// at VMRUN). Inverted so that the default, `false`, is the v1 behaviour (AVIC on); a
        /// design without `avic_en_i` ignores it (`bindings/model_impl.h`).
        pub avic_off: bool,
        pub self_idx: u8,
        pub backing: u64,
        pub ldr_cluster: bool,
        pub icr_wr: bool,
        pub icr_lo: u32,
        pub icr_hi: u32,
        pub intr_ready: bool,
        pub eoi: bool,
        /// Host software writes the doorbell MSR with this core's host APIC ID (pulse).
        pub sw_doorbell: bool,
        pub port: [PortRsp; 3],
    }

    /// Per-core outputs after the clock edge.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CoreOut {
        pub port: [PortReq; 3],
        pub busy: bool,
        pub exit_valid: bool,
        pub exit_code: u16,
        pub exit_info1: u64,
        pub exit_info2: u64,
        pub doorbell_valid: bool,
        pub doorbell_host_id: u16,
        pub doorbell_recv: bool,
        pub intr_valid: bool,
        pub intr_vec: u8,
        pub in_service: bool,
        /// The receiver owes or runs an evaluation (the guest executes nothing meanwhile).
        pub eval_busy: bool,
        pub db_drop: bool,
        pub db_latched: bool,
    }

    /// Hardware ordering variants: configuration inputs sampled while reset is asserted.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct HwConfig {
        /// HW-A: IRR set by one locked transaction (true) or a read then a write (false).
        pub atomic_irr: bool,
        /// HW-B: 0 IsRunning read after the IRR update completes, 1 while it is in flight,
        /// 2 before it.
        pub isrun_order: u8,
        /// HW-G: IsRunning taken from the entry read before the IRR update (erratum #1235).
        pub stale_isrun: bool,
        /// HW-D: validate every destination before the first IRR update.
        pub validate_first: bool,
        /// HW-E: a doorbell to a core in host mode waits for the next VMRUN.
        pub latch_doorbell: bool,
    }

    /// All inputs of `avic_top` for one cycle.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct TopIn {
        pub rst_n: bool,
        pub cfg: HwConfig,
        pub phys_base: u64,
        pub phys_max_idx: u8,
        pub log_base: u64,
        pub core: [CoreIn; 8],
    }

    /// All outputs of `avic_top` after one cycle.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct TopOut {
        pub core: [CoreOut; 8],
    }

    /// Events after which [`run_autonomous`](Model::run_autonomous) returns (on any core).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct AutoStop {
        /// `exit_valid`.
        pub exit: bool,
        /// `doorbell_valid`.
        pub doorbell: bool,
        /// `intr_valid`.
        pub intr: bool,
        /// `db_drop`.
        pub db_drop: bool,
        /// A sender went idle (`busy` fell).
        pub idle: bool,
    }

    /// Which Verilated build of the model to instantiate.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ModelKind {
        /// No tracing code: fastest.
        Plain,
        /// Built with `--trace`: can write VCD.
        Vcd,
        /// Built with `--trace-fst`: can write FST.
        Fst,
        /// Built with `--savable`: no tracing, can [`save`](Model::save) its state to a
        /// buffer and [`restore`](Model::restore) it (branching from saved RTL state).
        Savable,
    }

    unsafe extern "C++" {
        include!("avic-cosim/bindings/shim.h");

        /// One instance of `avic_top` with its own `VerilatedContext`.
        type Model;

        /// A new model of the given build.
        fn new_model(kind: ModelKind) -> Result<UniquePtr<Model>>;
        /// Apply `inp` for one clock cycle (low phase, then the rising edge) and read `out`.
        fn step(self: Pin<&mut Model>, inp: &TopIn, out: &mut TopOut) -> Result<()>;
        /// `n` cycles with `inp` held; `out` after the last.
        fn step_n(self: Pin<&mut Model>, inp: &TopIn, n: u64, out: &mut TopOut) -> Result<()>;
        /// Start writing a waveform (VCD or FST, as the model was built) to `path`.
        fn open_trace(self: Pin<&mut Model>, path: &str) -> Result<()>;
        /// Flush and close the waveform, if open.
        fn close_trace(self: Pin<&mut Model>);
        /// Cycles stepped since creation.
        fn cycles(self: &Model) -> u64;
        /// Batched mode: replaces the C++ responder's memory (word `i` at byte address `8 * i`).
        fn auto_load(self: Pin<&mut Model>, words: &[u64]);
        /// The C++ responder memory's word at byte address `addr`.
        fn auto_word(self: &Model, addr: u64) -> Result<u64>;
        /// Ports with a transaction in flight in the C++ responder (bit `core * 3 + port`).
        fn auto_in_flight(self: &Model) -> u32;
        /// Batched mode: `inp` for the first cycle (its pulses for that cycle only), then up to
        /// `n` cycles in this one call with every port answered by the C++ responder
        /// (`tb/cpp/responder.h`, latency 1), stopping after the first cycle showing an event
        /// of `stop`; `out` after the last. Returns the cycles run.
        fn run_autonomous(
            self: Pin<&mut Model>,
            inp: &TopIn,
            n: u64,
            stop: &AutoStop,
            out: &mut TopOut,
        ) -> Result<u64>;
        /// Savable builds: serializes the model's state (its cycle count, then Verilator's
        /// `--savable` serialization) and copies as much of it as fits into `out`. Returns the
        /// whole size: call again with a larger `out` when it is bigger than `out`. Other
        /// builds: `Err`.
        fn save(self: &Model, out: &mut [u8]) -> Result<usize>;
        /// Savable builds: restores a state [`save`](Model::save) wrote, from this model or
        /// another Savable model. `Err` for other builds, and for bytes that are not such a
        /// state (wrong size, header, check value or trailer); the model's state is then
        /// undefined until a restore succeeds.
        fn restore(self: Pin<&mut Model>, state: &[u8]) -> Result<()>;
        /// Number of cores the model was built with (`avic_top.NumCores`).
        fn num_cores() -> usize;
    }
}
