//! Bring your own RTL: any implementation of the port contract (`docs/port-contract.md`),
//! named by a Verilator file list and a top module, verilated and compiled at run time into a
//! shared object that the harness loads in place of the bundled model.
//!
//! - [`UserRtl::from_filelist`] reads the file list (a subset of Verilator's `-f` syntax:
//!   source files, `+incdir+`, `+define+`, `-y`, `-v`, `-f`/`-F`, `//` and `#` comments; paths
//!   relative to the file list's directory, or else to the current directory as Verilator has
//!   them) and computes a content key: every source's bytes and path, the files of every
//!   include and library directory, the top, the defines, the flavor, the shim sources embedded
//!   in this binary, and the identity (path, size, mtime) of Verilator and the C++ compiler.
//! - [`UserRtl::load`] returns the loaded model of one [`Flavor`] (plain, VCD, FST, coverage).
//!   A cache hit (`<cache>/model-<flavor>-<key>/model.so` exists) runs neither Verilator nor the
//!   compiler. A miss verilates with `--prefix VavicUser` (so one shim compiles against any
//!   top), compiles the model and `bindings/user_model.cpp` (the C ABI of
//!   `bindings/user_api.h` over the same `ModelCore` as the bundled builds), links them with
//!   Verilator's runtime (itself cached per Verilator and compiler) into `model.so`, all in a
//!   temporary directory of the cache that is renamed into place when complete. An exclusive
//!   `flock` per entry makes concurrent builders of one key (threads or processes) build it
//!   once; readers only ever see complete entries.
//! - The cache root is `$AVIC_COSIM_CACHE`, else `$XDG_CACHE_HOME/avic-cosim`, else
//!   `~/.cache/avic-cosim`.
//!
//! Errors name the file list and show the tool's first errors; a top that lacks a port of the
//! contract is reported as such; a missing Verilator says how to install it.

use crate::ffi::{AutoStop, ModelKind, TopIn, TopOut};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::ptr::NonNull;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Sources of the shared object, embedded so an installed binary can build without the repo.
const EMBEDDED: &[(&str, &str)] = &[
    ("user_model.cpp", include_str!("../bindings/user_model.cpp")),
    (
        "include/model_impl.h",
        include_str!("../bindings/model_impl.h"),
    ),
    ("include/vl_hooks.h", include_str!("../bindings/vl_hooks.h")),
    ("include/user_api.h", include_str!("../bindings/user_api.h")),
    ("include/responder.h", include_str!("../tb/cpp/responder.h")),
    (
        "include/avic-cosim/bindings/shim.h",
        include_str!("../bindings/shim.h"),
    ),
    (
        "include/avic-cosim/bindings/ffi.rs.h",
        include_str!(concat!(
            env!("OUT_DIR"),
            "/cxxbridge/include/avic-cosim/bindings/ffi.rs.h"
        )),
    ),
    (
        "include/rust/cxx.h",
        include_str!(concat!(env!("OUT_DIR"), "/cxxbridge/include/rust/cxx.h")),
    ),
];

/// Version of the C ABI in `bindings/user_api.h`.
const ABI_VERSION: u32 = 1;

/// How to install Verilator, for error messages.
pub const INSTALL_HINT: &str = "install Verilator 5.006 or newer and a C++ compiler: on Debian or \
     Ubuntu `sudo apt-get install -y verilator g++ zlib1g-dev` (or `make deps`), or set VERILATOR \
     (and CXX) to their paths";

/// Compiler flags of the model, as `build.rs` uses them for the bundled builds.
const CXX_FLAGS: &[&str] = &[
    "-std=c++17",
    "-O3",
    "-fPIC",
    "-fvisibility=hidden",
    "-fno-semantic-interposition",
    "-faligned-new",
    "-fcf-protection=none",
    "-w",
    "-DVM_SC=0",
    "-DVM_TRACE=1",
    "-DVM_TRACE_VCD=1",
    "-DVM_TRACE_FST=1",
    "-DVL_USER_FINISH=1",
    "-DVL_USER_STOP=1",
    "-DVL_USER_FATAL=1",
];

/// Verilator's runtime sources the shared object links.
const RUNTIME: &[&str] = &[
    "verilated.cpp",
    "verilated_threads.cpp",
    "verilated_vcd_c.cpp",
    "verilated_fst_c.cpp",
    "verilated_cov.cpp",
];

/// Errors of reading, building or loading a user's RTL. Every message names the file list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtlError {
    /// The file list is malformed or names a file that does not exist.
    #[error("{file}:{line}: {msg}")]
    Filelist {
        /// The file list (or a nested one).
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {msg}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        msg: String,
    },
    /// Verilator or the C++ compiler cannot be run.
    #[error("cannot run `{tool}` ({msg}): {INSTALL_HINT}")]
    ToolMissing {
        /// The command.
        tool: String,
        /// The OS error.
        msg: String,
    },
    /// The top module is not in the design.
    #[error("{filelist}: top module `{top}` is not in the design (Verilator: {first})")]
    MissingTop {
        /// The file list.
        filelist: PathBuf,
        /// The top asked for.
        top: String,
        /// Verilator's message.
        first: String,
    },
    /// Verilator rejected the design.
    #[error("{filelist}: Verilator failed (top `{top}`); its first errors:\n{first}")]
    Verilate {
        /// The file list.
        filelist: PathBuf,
        /// The top.
        top: String,
        /// Verilator's first error lines.
        first: String,
    },
    /// The top lacks a port the harness drives or reads.
    #[error(
        "{filelist}: top `{top}` lacks port `{port}` required by the port contract \
         (docs/port-contract.md)"
    )]
    MissingPort {
        /// The file list.
        filelist: PathBuf,
        /// The top.
        top: String,
        /// The port.
        port: String,
    },
    /// The C++ compiler rejected the verilated model or the shim.
    #[error("{filelist}: the C++ compiler failed on the model of top `{top}`; its first errors:\n{first}")]
    Compile {
        /// The file list.
        filelist: PathBuf,
        /// The top.
        top: String,
        /// The compiler's first error lines.
        first: String,
    },
    /// The shared object could not be loaded or does not match this build.
    #[error("{path}: {msg}")]
    Load {
        /// The shared object.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> RtlError + '_ {
    move |e| RtlError::Io {
        path: path.to_path_buf(),
        msg: e.to_string(),
    }
}

/// Which build of a design: what the harness asks for decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// No tracing, no coverage: fastest.
    Plain,
    /// `--trace`: VCD waveforms.
    Vcd,
    /// `--trace-fst`: FST waveforms.
    Fst,
    /// `--coverage`: line and toggle counters.
    Coverage,
}

impl Flavor {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Flavor::Plain => "plain",
            Flavor::Vcd => "vcd",
            Flavor::Fst => "fst",
            Flavor::Coverage => "coverage",
        }
    }

    fn verilator_flag(self) -> Option<&'static str> {
        match self {
            Flavor::Plain => None,
            Flavor::Vcd => Some("--trace"),
            Flavor::Fst => Some("--trace-fst"),
            Flavor::Coverage => Some("--coverage"),
        }
    }

    /// Compiler flags after [`CXX_FLAGS`]: the coverage build's generated code is several
    /// times larger, so it is compiled at -O1 (built in half the time at -O3's; it counts, it need
    /// not race).
    fn extra_cxx(self) -> &'static [&'static str] {
        match self {
            Flavor::Coverage => &["-O1"],
            _ => &[],
        }
    }

    fn defines(self) -> [&'static str; 2] {
        match self {
            Flavor::Plain => ["-DAVIC_USER_TRACE=0", "-DVM_COVERAGE=0"],
            Flavor::Vcd => ["-DAVIC_USER_TRACE=1", "-DVM_COVERAGE=0"],
            Flavor::Fst => ["-DAVIC_USER_TRACE=2", "-DVM_COVERAGE=0"],
            Flavor::Coverage => ["-DAVIC_USER_TRACE=0", "-DVM_COVERAGE=1"],
        }
    }
}

impl From<ModelKind> for Flavor {
    fn from(k: ModelKind) -> Self {
        match k {
            ModelKind::Vcd => Flavor::Vcd,
            ModelKind::Fst => Flavor::Fst,
            // Plain, and Savable: a user's RTL has no `--savable` build (its snapshots are
            // errors, and the exhaustive search replays instead of branching).
            _ => Flavor::Plain,
        }
    }
}

/// Options of [`UserRtl::from_filelist`].
#[derive(Clone, Debug, Default)]
pub struct RtlOptions {
    /// Cache root (default: [`default_cache_dir`]).
    pub cache_dir: Option<PathBuf>,
}

/// `$AVIC_COSIM_CACHE`, else `$XDG_CACHE_HOME/avic-cosim`, else `$HOME/.cache/avic-cosim`, else
/// `avic-cosim-cache` in the temporary directory.
pub fn default_cache_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("AVIC_COSIM_CACHE") {
        return d.into();
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("avic-cosim");
    }
    if let Some(h) = var("HOME") {
        return PathBuf::from(h).join(".cache").join("avic-cosim");
    }
    std::env::temp_dir().join("avic-cosim-cache")
}

/// What a file list resolved to.
#[derive(Clone, Debug, Default)]
struct Design {
    sources: Vec<PathBuf>,
    incdirs: Vec<PathBuf>,
    libdirs: Vec<PathBuf>,
    defines: Vec<String>,
    libext: Vec<String>,
}

/// How a build of one flavor was obtained.
#[derive(Clone, Debug)]
pub struct BuildInfo {
    /// The shared object.
    pub so: PathBuf,
    /// The entry was in the cache: neither Verilator nor the compiler ran.
    pub cache_hit: bool,
    /// Wall-clock seconds to obtain it (build or lookup and load).
    pub seconds: f64,
}

/// A user's design: its file list, top and cache, and its builds loaded so far.
pub struct UserRtl {
    filelist: PathBuf,
    top: String,
    design: Design,
    cache: PathBuf,
    /// Content key of the design without the flavor.
    key: String,
    /// The bundled RTL (the crate's own builds serve its plain and traced flavors).
    bundled: bool,
    built: [OnceLock<Result<Arc<UserLib>, RtlError>>; 4],
}

impl fmt::Debug for UserRtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRtl")
            .field("filelist", &self.filelist)
            .field("top", &self.top)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl UserRtl {
    /// Reads `filelist` (every source must exist) and computes the design's content key. Builds
    /// nothing: see [`UserRtl::load`].
    pub fn from_filelist(
        filelist: &Path,
        top: &str,
        opts: &RtlOptions,
    ) -> Result<Arc<Self>, RtlError> {
        if top.is_empty()
            || !top
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            return Err(RtlError::Filelist {
                file: filelist.to_path_buf(),
                line: 0,
                msg: format!("`{top}` is not a module name"),
            });
        }
        let mut design = Design::default();
        read_filelist(filelist, &mut design, 0)?;
        if design.sources.is_empty() {
            return Err(RtlError::Filelist {
                file: filelist.to_path_buf(),
                line: 0,
                msg: "no source files".into(),
            });
        }
        let key = design_key(&design, top)?;
        Ok(Arc::new(UserRtl {
            filelist: filelist.to_path_buf(),
            top: top.to_string(),
            design,
            cache: opts.cache_dir.clone().unwrap_or_else(default_cache_dir),
            key,
            bundled: false,
            built: Default::default(),
        }))
    }

    /// The file list.
    pub fn filelist(&self) -> &Path {
        &self.filelist
    }

    /// The top module.
    pub fn top(&self) -> &str {
        &self.top
    }

    /// The cache root.
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// Whether this is the bundled RTL ([`UserRtl::bundled`]).
    pub fn is_bundled(&self) -> bool {
        self.bundled
    }

    /// The design's content key (hex); equal keys mean the same build.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The loaded model of `flavor`, from this process's earlier call, the cache, or a build.
    /// Threads asking at once wait for one build.
    pub fn load(&self, flavor: Flavor) -> Result<Arc<UserLib>, RtlError> {
        self.built[flavor.index()]
            .get_or_init(|| self.obtain(flavor).map(Arc::new))
            .clone()
    }

    fn obtain(&self, flavor: Flavor) -> Result<UserLib, RtlError> {
        let t = Instant::now();
        fs::create_dir_all(&self.cache).map_err(io_err(&self.cache))?;
        let key = hex(&Sha256::digest(format!("{}|{}", self.key, flavor.name())));
        let entry = self
            .cache
            .join(format!("model-{}-{}", flavor.name(), &key[..32]));
        let so = entry.join("model.so");
        let mut cache_hit = so.exists();
        if !cache_hit {
            let _lock = Lock::take(&self.cache.join(format!("model-{}.lock", &key[..32])))?;
            cache_hit = so.exists();
            if !cache_hit {
                let tmp = temp_dir_in(&self.cache)?;
                let r = self.build(flavor, &tmp).and_then(|()| {
                    fs::rename(&tmp, &entry).map_err(io_err(&entry))?;
                    Ok(())
                });
                if r.is_err() {
                    let _ = fs::remove_dir_all(&tmp);
                }
                r?;
            }
        }
        let mut lib = UserLib::open(&so)?;
        lib.info = BuildInfo {
            so,
            cache_hit,
            seconds: t.elapsed().as_secs_f64(),
        };
        Ok(lib)
    }

    /// Verilates and compiles one flavor into `dir/model.so`.
    fn build(&self, flavor: Flavor, dir: &Path) -> Result<(), RtlError> {
        let tools = Tools::find()?;
        for (name, text) in EMBEDDED {
            let p = dir.join(name);
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            fs::write(&p, text).map_err(io_err(&p))?;
        }
        let vobj = dir.join("vobj");
        let mut cmd = Command::new(&tools.verilator);
        cmd.args(["--cc", "-O3", "--x-assign", "fast", "--x-initial", "fast"])
            .args(["--assert", "-Wno-fatal", "--prefix", "VavicUser"])
            .arg("--top-module")
            .arg(&self.top)
            .arg("--Mdir")
            .arg(&vobj);
        if let Some(f) = flavor.verilator_flag() {
            cmd.arg(f);
        }
        for d in &self.design.incdirs {
            cmd.arg(format!("-I{}", d.display()));
        }
        for d in &self.design.libdirs {
            cmd.arg("-y").arg(d);
        }
        for d in &self.design.defines {
            cmd.arg(format!("+define+{d}"));
        }
        for e in &self.design.libext {
            cmd.arg(format!("+libext+{e}"));
        }
        cmd.args(&self.design.sources);
        let o = run(&mut cmd, &tools.verilator)?;
        log(dir, "verilator", &o);
        if !o.status.success() {
            return Err(self.verilator_error(&o));
        }
        if flavor == Flavor::Coverage {
            patch_cover_insert(&vobj)?;
        }
        let mut gen: Vec<String> = fs::read_dir(&vobj)
            .map_err(io_err(&vobj))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("VavicUser") && n.ends_with(".cpp"))
            .collect();
        gen.sort();
        let all = vobj.join("VavicUser__avic_all.cpp");
        let text: String = gen.iter().map(|g| format!("#include \"{g}\"\n")).collect();
        fs::write(&all, text).map_err(io_err(&all))?;

        let inc = [
            format!("-I{}", vobj.display()),
            format!("-I{}", dir.join("include").display()),
            format!("-I{}", tools.include.display()),
            format!("-I{}", tools.include.join("vltstd").display()),
        ];
        let compile = |src: &Path, obj: &Path| {
            let mut c = Command::new(&tools.cxx);
            c.args(CXX_FLAGS)
                .args(flavor.extra_cxx())
                .args(flavor.defines())
                .arg(format!("-DAVIC_NUM_CORES={}", crate::dut::DEFAULT_CORES))
                .args(&inc)
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(obj)
                .env("LC_ALL", "C");
            c
        };
        let shim_o = dir.join("user_model.o");
        let model_o = dir.join("model.o");
        let outs = run_parallel(
            vec![
                compile(&dir.join("user_model.cpp"), &shim_o),
                compile(&all, &model_o),
            ],
            &tools.cxx,
        )?;
        for (name, o) in ["user_model.cpp", "model"].iter().zip(&outs) {
            log(dir, &format!("c++ {name}"), o);
        }
        if let Some(o) = outs.iter().find(|o| !o.status.success()) {
            return Err(self.compile_error(o));
        }
        let runtime = runtime_lib(&self.cache, &tools)?;
        let mut link = Command::new(&tools.cxx);
        link.args([
            "-shared",
            "-fPIC",
            "-Wl,-Bsymbolic",
            "-Wl,--exclude-libs,ALL",
        ])
        .arg("-o")
        .arg(dir.join("model.so"))
        .arg(&shim_o)
        .arg(&model_o)
        .arg(&runtime)
        .args(["-lz", "-lpthread"])
        .env("LC_ALL", "C");
        let o = run(&mut link, &tools.cxx)?;
        log(dir, "link", &o);
        if !o.status.success() {
            return Err(self.compile_error(&o));
        }
        Ok(())
    }

    fn verilator_error(&self, o: &Output) -> RtlError {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        if let Some(l) = text
            .lines()
            .find(|l| l.contains("--top-module") && l.contains("was not found"))
        {
            return RtlError::MissingTop {
                filelist: self.filelist.clone(),
                top: self.top.clone(),
                first: l.trim().to_string(),
            };
        }
        RtlError::Verilate {
            filelist: self.filelist.clone(),
            top: self.top.clone(),
            first: first_errors(&text, "%Error"),
        }
    }

    fn compile_error(&self, o: &Output) -> RtlError {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        let marker = "has no member named '";
        if let Some(l) = text
            .lines()
            .find(|l| l.contains("VavicUser") && l.contains(marker))
        {
            let rest = &l[l.find(marker).unwrap_or(0) + marker.len()..];
            let port = rest.split('\'').next().unwrap_or(rest);
            return RtlError::MissingPort {
                filelist: self.filelist.clone(),
                top: self.top.clone(),
                port: port.to_string(),
            };
        }
        RtlError::Compile {
            filelist: self.filelist.clone(),
            top: self.top.clone(),
            first: first_errors(&text, "error"),
        }
    }
}

/// Coverage builds: lets `bindings/user_model.cpp` skip registering the coverage points of the
/// instances that only count (every run's model). Registering builds a string key per point
/// (about 10 000 for the bundled RTL) and costs more than the run itself; only the one instance
/// that writes the merged counters needs it. Verilator 5's `__vlCoverInsert` gets one early
/// return on a thread-local flag, before its `VL_COVER_INSERT` (5.006: `(std::atomic<uint32_t>*
/// countp, ...)` and `VL_COVER_INSERT(coveragep(), count32p, ...`; 5.032: `(uint32_t* countp,
/// ...)` and `VL_COVER_INSERT(coveragep(), VerilatedModule::name(), count32p, ...`); if its text
/// is not found (another Verilator), nothing is patched and every instance registers (slower,
/// same counts).
fn patch_cover_insert(vobj: &Path) -> Result<(), RtlError> {
    const INSERT: &str = "    VL_COVER_INSERT(vlSymsp->_vm_contextp__->coveragep(),";
    for e in fs::read_dir(vobj).map_err(io_err(vobj))? {
        let p = e.map_err(io_err(vobj))?.path();
        if p.extension().is_none_or(|x| x != "cpp") {
            continue;
        }
        let text = fs::read_to_string(&p).map_err(io_err(&p))?;
        if text.contains("::__vlCoverInsert(") && text.contains(INSERT) {
            let patched = format!(
                "extern thread_local bool avic_cov_register;\n{}",
                text.replacen(
                    INSERT,
                    &format!("    if (!avic_cov_register) return;\n{INSERT}"),
                    1
                )
            );
            fs::write(&p, patched).map_err(io_err(&p))?;
        }
    }
    Ok(())
}

/// Up to 12 lines: the lines mentioning `marker` and the context lines indented under them.
fn first_errors(text: &str, marker: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut in_block = false;
    for l in text.lines() {
        if l.contains(marker) && !l.contains("Exiting due to") {
            in_block = true;
            out.push(l);
        } else if in_block && (l.starts_with(' ') || l.starts_with('\t')) {
            out.push(l);
        } else {
            in_block = false;
        }
        if out.len() >= 12 {
            break;
        }
    }
    if out.is_empty() {
        out = text.lines().take(12).collect();
    }
    out.join("\n")
}

fn log(dir: &Path, what: &str, o: &Output) {
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("build.log"))
    {
        let _ = writeln!(f, "== {what}: {}", o.status);
        let _ = f.write_all(&o.stdout);
        let _ = f.write_all(&o.stderr);
    }
}

fn run(cmd: &mut Command, tool: &Path) -> Result<Output, RtlError> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| RtlError::ToolMissing {
            tool: tool.display().to_string(),
            msg: e.to_string(),
        })
}

/// Runs the commands, at most as many at once as there are cores; their outputs in order.
fn run_parallel(cmds: Vec<Command>, tool: &Path) -> Result<Vec<Output>, RtlError> {
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let mut outs = Vec::with_capacity(cmds.len());
    let mut cmds = cmds.into_iter().peekable();
    while cmds.peek().is_some() {
        let mut children = Vec::new();
        for mut c in cmds.by_ref().take(jobs) {
            let child = c
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| RtlError::ToolMissing {
                    tool: tool.display().to_string(),
                    msg: e.to_string(),
                })?;
            children.push(child);
        }
        for ch in children {
            outs.push(ch.wait_with_output().map_err(|e| RtlError::ToolMissing {
                tool: tool.display().to_string(),
                msg: e.to_string(),
            })?);
        }
    }
    Ok(outs)
}

/// Verilator's runtime as a static PIC archive, cached per Verilator and compiler.
fn runtime_lib(cache: &Path, tools: &Tools) -> Result<PathBuf, RtlError> {
    let mut h = Sha256::new();
    h.update(format!(
        "runtime|{ABI_VERSION}|{}|{}|{}|{:?}|{:?}",
        tools.verilator_id,
        tools.cxx_id,
        tools.include.display(),
        CXX_FLAGS,
        RUNTIME
    ));
    let key = hex(&h.finalize());
    let entry = cache.join(format!("runtime-{}", &key[..32]));
    let lib = entry.join("libavic_vlrt.a");
    if lib.exists() {
        return Ok(lib);
    }
    let _lock = Lock::take(&cache.join(format!("runtime-{}.lock", &key[..32])))?;
    if lib.exists() {
        return Ok(lib);
    }
    let tmp = temp_dir_in(cache)?;
    let r = (|| {
        let cmds: Vec<Command> = RUNTIME
            .iter()
            .map(|f| {
                let mut c = Command::new(&tools.cxx);
                c.args(CXX_FLAGS)
                    .args(Flavor::Plain.defines())
                    .arg(format!("-I{}", tools.include.display()))
                    .arg(format!("-I{}", tools.include.join("vltstd").display()))
                    .arg("-c")
                    .arg(tools.include.join(f))
                    .arg("-o")
                    .arg(tmp.join(f).with_extension("o"))
                    .env("LC_ALL", "C");
                c
            })
            .collect();
        let outs = run_parallel(cmds, &tools.cxx)?;
        if let Some(o) = outs.iter().find(|o| !o.status.success()) {
            return Err(RtlError::Compile {
                filelist: tools.include.clone(),
                top: "Verilator runtime".into(),
                first: first_errors(&String::from_utf8_lossy(&o.stderr), "error"),
            });
        }
        let mut ar = Command::new("ar");
        ar.arg("rcs").arg(tmp.join("libavic_vlrt.a"));
        for f in RUNTIME {
            ar.arg(tmp.join(f).with_extension("o"));
        }
        let o = run(&mut ar, Path::new("ar"))?;
        if !o.status.success() {
            return Err(RtlError::Compile {
                filelist: tools.include.clone(),
                top: "Verilator runtime".into(),
                first: String::from_utf8_lossy(&o.stderr).into_owned(),
            });
        }
        fs::rename(&tmp, &entry).map_err(io_err(&entry))
    })();
    if r.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    r.map(|()| lib)
}

/// Verilator and the C++ compiler, resolved for a build.
struct Tools {
    verilator: PathBuf,
    verilator_id: String,
    include: PathBuf,
    cxx: PathBuf,
    cxx_id: String,
}

fn verilator_cmd() -> PathBuf {
    std::env::var_os("VERILATOR")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "verilator".into())
        .into()
}

fn cxx_cmd() -> PathBuf {
    std::env::var_os("CXX")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "g++".into())
        .into()
}

/// The command's identity without running it: its resolved path, size and mtime.
fn tool_id(cmd: &Path) -> String {
    let found = if cmd.components().count() > 1 {
        Some(cmd.to_path_buf())
    } else {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(cmd))
                .find(|c| c.is_file())
        })
    };
    match found.and_then(|p| fs::metadata(&p).ok().map(|m| (p, m))) {
        Some((p, m)) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}:{}:{mtime}", p.display(), m.len())
        }
        None => format!("{}:missing", cmd.display()),
    }
}

impl Tools {
    fn find() -> Result<Tools, RtlError> {
        let verilator = verilator_cmd();
        let o = run(
            Command::new(&verilator).args(["--getenv", "VERILATOR_ROOT"]),
            &verilator,
        )?;
        let root = match std::env::var_os("VERILATOR_ROOT").filter(|v| !v.is_empty()) {
            Some(r) => PathBuf::from(r),
            None => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        };
        let include = root.join("include");
        if !o.status.success() || !include.join("verilated.cpp").is_file() {
            return Err(RtlError::ToolMissing {
                tool: verilator.display().to_string(),
                msg: format!("its runtime sources are not in `{}`", include.display()),
            });
        }
        let cxx = cxx_cmd();
        run(Command::new(&cxx).arg("--version"), &cxx)?;
        Ok(Tools {
            verilator_id: tool_id(&verilator),
            verilator,
            include,
            cxx_id: tool_id(&cxx),
            cxx,
        })
    }
}

/// The content key of a design and top (flavor excluded).
fn design_key(d: &Design, top: &str) -> Result<String, RtlError> {
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(
        &mut h,
        format!("avic-cosim user model abi {ABI_VERSION}").as_bytes(),
    );
    field(&mut h, env!("CARGO_PKG_VERSION").as_bytes());
    for (name, text) in EMBEDDED {
        field(&mut h, name.as_bytes());
        field(&mut h, text.as_bytes());
    }
    field(&mut h, format!("{CXX_FLAGS:?}{RUNTIME:?}").as_bytes());
    field(&mut h, tool_id(&verilator_cmd()).as_bytes());
    field(&mut h, tool_id(&cxx_cmd()).as_bytes());
    field(&mut h, top.as_bytes());
    for d in &d.defines {
        field(&mut h, b"define");
        field(&mut h, d.as_bytes());
    }
    for e in &d.libext {
        field(&mut h, b"libext");
        field(&mut h, e.as_bytes());
    }
    let mut files: Vec<(&str, PathBuf)> = d.sources.iter().map(|s| ("src", s.clone())).collect();
    for dir in d.incdirs.iter().chain(&d.libdirs) {
        field(&mut h, b"dir");
        field(&mut h, dir.to_string_lossy().as_bytes());
        let mut in_dir: BTreeSet<PathBuf> = BTreeSet::new();
        for e in fs::read_dir(dir).map_err(io_err(dir))? {
            let p = e.map_err(io_err(dir))?.path();
            if p.is_file() {
                in_dir.insert(p);
            }
        }
        files.extend(in_dir.into_iter().map(|p| ("dirfile", p)));
    }
    for (kind, p) in files {
        field(&mut h, kind.as_bytes());
        field(&mut h, p.to_string_lossy().as_bytes());
        field(&mut h, &fs::read(&p).map_err(io_err(&p))?);
    }
    Ok(hex(&h.finalize()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Resolves `tok` against the file list's directory, then the current directory.
fn resolve(base: &Path, tok: &str, file: &Path, line: usize) -> Result<PathBuf, RtlError> {
    let p = Path::new(tok);
    let cands = if p.is_absolute() {
        vec![p.to_path_buf()]
    } else {
        vec![base.join(p), p.to_path_buf()]
    };
    cands
        .into_iter()
        .find(|c| c.exists())
        .map(|c| fs::canonicalize(&c).unwrap_or(c))
        .ok_or_else(|| RtlError::Filelist {
            file: file.to_path_buf(),
            line,
            msg: format!(
                "`{tok}` not found (looked relative to {} and to the current directory)",
                if base.as_os_str().is_empty() {
                    Path::new(".").display()
                } else {
                    base.display()
                }
            ),
        })
}

fn read_filelist(file: &Path, d: &mut Design, depth: usize) -> Result<(), RtlError> {
    if depth > 16 {
        return Err(RtlError::Filelist {
            file: file.to_path_buf(),
            line: 0,
            msg: "file lists nested more than 16 deep".into(),
        });
    }
    let text = fs::read_to_string(file).map_err(io_err(file))?;
    let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut toks: Vec<(usize, &str)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.split("//").next().unwrap_or("");
        if l.trim_start().starts_with('#') {
            continue;
        }
        toks.extend(l.split_whitespace().map(|t| (i + 1, t)));
    }
    let err = |line: usize, msg: String| RtlError::Filelist {
        file: file.to_path_buf(),
        line,
        msg,
    };
    let mut it = toks.into_iter();
    while let Some((line, t)) = it.next() {
        let mut arg = |flag: &str| {
            it.next()
                .map(|(_, a)| a)
                .ok_or_else(|| err(line, format!("`{flag}` needs an argument")))
        };
        if let Some(rest) = t.strip_prefix("+incdir+") {
            for dir in rest.split('+').filter(|s| !s.is_empty()) {
                d.incdirs.push(resolve(&base, dir, file, line)?);
            }
        } else if let Some(rest) = t.strip_prefix("+define+") {
            d.defines
                .extend(rest.split('+').filter(|s| !s.is_empty()).map(String::from));
        } else if let Some(rest) = t.strip_prefix("+libext+") {
            d.libext
                .extend(rest.split('+').filter(|s| !s.is_empty()).map(String::from));
        } else if let Some(dir) = t.strip_prefix("-I").filter(|s| !s.is_empty()) {
            d.incdirs.push(resolve(&base, dir, file, line)?);
        } else if let Some(def) = t.strip_prefix("-D").filter(|s| !s.is_empty()) {
            d.defines.push(def.to_string());
        } else if t == "-y" {
            let a = arg(t)?;
            d.libdirs.push(resolve(&base, a, file, line)?);
        } else if t == "-v" {
            let a = arg(t)?;
            d.sources.push(resolve(&base, a, file, line)?);
        } else if t == "-f" || t == "-F" {
            let a = arg(t)?;
            let nested = resolve(&base, a, file, line)?;
            read_filelist(&nested, d, depth + 1)?;
        } else if t.starts_with('-') || t.starts_with('+') {
            return Err(err(
                line,
                format!(
                    "unsupported option `{t}` (a file list may hold source files, +incdir+, \
                     +define+, +libext+, -I, -D, -y, -v, -f and -F)"
                ),
            ));
        } else {
            d.sources.push(resolve(&base, t, file, line)?);
        }
    }
    Ok(())
}

/// A fresh directory inside `root` for one build.
fn temp_dir_in(root: &Path) -> Result<PathBuf, RtlError> {
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for n in 0..1000u32 {
        let d = tmp.join(format!("{}-{nanos}-{n}", std::process::id()));
        match fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&d)(e)),
        }
    }
    Err(RtlError::Io {
        path: tmp,
        msg: "cannot create a build directory".into(),
    })
}

/// An exclusive `flock` on a lock file, released on drop (or when the process dies).
struct Lock(fs::File);

impl Lock {
    fn take(path: &Path) -> Result<Lock, RtlError> {
        use std::os::unix::io::AsRawFd;
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        loop {
            // SAFETY: flock on a descriptor this function owns.
            let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return Ok(Lock(f));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(io_err(path)(e));
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: unlocking the descriptor this value owns.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// The function table of `bindings/user_api.h`.
#[repr(C)]
struct ApiV1 {
    abi_version: u32,
    size_top_in: u32,
    size_top_out: u32,
    size_auto_stop: u32,
    create: unsafe extern "C" fn(err: *mut *const c_char) -> *mut c_void,
    destroy: unsafe extern "C" fn(m: *mut c_void),
    step: unsafe extern "C" fn(*mut c_void, *const TopIn, *mut TopOut) -> *const c_char,
    step_n: unsafe extern "C" fn(*mut c_void, *const TopIn, u64, *mut TopOut) -> *const c_char,
    open_trace: unsafe extern "C" fn(*mut c_void, *const c_char) -> *const c_char,
    close_trace: unsafe extern "C" fn(*mut c_void),
    cycles: unsafe extern "C" fn(*const c_void) -> u64,
    auto_load: unsafe extern "C" fn(*mut c_void, *const u64, usize),
    auto_word: unsafe extern "C" fn(*mut c_void, u64, *mut u64) -> *const c_char,
    auto_in_flight: unsafe extern "C" fn(*const c_void) -> u32,
    run_autonomous: unsafe extern "C" fn(
        *mut c_void,
        *const TopIn,
        u64,
        *const AutoStop,
        *mut TopOut,
        *mut u64,
    ) -> *const c_char,
    coverage_points: unsafe extern "C" fn() -> usize,
    coverage_add: unsafe extern "C" fn(*mut c_void, *mut u64, usize),
    coverage_write: unsafe extern "C" fn(*const u64, usize, *const c_char) -> *const c_char,
    num_cores: u32,
}

/// One loaded build of a user's design. The library stays loaded for the life of the process
/// (Verilator's runtime inside it has thread-local state that must outlive every thread).
pub struct UserLib {
    api: &'static ApiV1,
    info: BuildInfo,
}

impl fmt::Debug for UserLib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserLib").field("info", &self.info).finish()
    }
}

impl UserLib {
    fn open(so: &Path) -> Result<UserLib, RtlError> {
        let load_err = |msg: String| RtlError::Load {
            path: so.to_path_buf(),
            msg,
        };
        // SAFETY: the library was built by `UserRtl::build` from this binary's embedded shim;
        // its initialisers are Verilator's and the shim's static tables.
        let lib = unsafe { libloading::Library::new(so) }.map_err(|e| load_err(e.to_string()))?;
        // SAFETY: the symbol has this signature in bindings/user_api.h.
        let api: *const ApiV1 = unsafe {
            let f: libloading::Symbol<unsafe extern "C" fn() -> *const ApiV1> = lib
                .get(b"avic_user_model_api_v1\0")
                .map_err(|e| load_err(e.to_string()))?;
            f()
        };
        // Never unloaded: see the type's documentation.
        std::mem::forget(lib);
        // SAFETY: a pointer to a static table of the library, which is never unloaded.
        let api: &'static ApiV1 =
            unsafe { api.as_ref() }.ok_or_else(|| load_err("null API table".into()))?;
        let want = (
            ABI_VERSION,
            std::mem::size_of::<TopIn>() as u32,
            std::mem::size_of::<TopOut>() as u32,
            std::mem::size_of::<AutoStop>() as u32,
        );
        let got = (
            api.abi_version,
            api.size_top_in,
            api.size_top_out,
            api.size_auto_stop,
        );
        if got != want {
            return Err(load_err(format!(
                "built for another avic-cosim (ABI, struct sizes {got:?}, this build {want:?})"
            )));
        }
        Ok(UserLib {
            api,
            info: BuildInfo {
                so: so.to_path_buf(),
                cache_hit: true,
                seconds: 0.0,
            },
        })
    }

    /// How this build was obtained.
    pub fn info(&self) -> &BuildInfo {
        &self.info
    }
}

fn c_msg(p: *const c_char) -> Option<String> {
    // SAFETY: a null or NUL-terminated string owned by the instance, read before its next call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

fn c_result(p: *const c_char) -> Result<(), String> {
    match c_msg(p) {
        None => Ok(()),
        Some(m) => Err(m),
    }
}

/// One instance of a user's model (its own `VerilatedContext`).
pub struct UserModel {
    lib: Arc<UserLib>,
    h: NonNull<c_void>,
}

impl fmt::Debug for UserModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserModel").field("lib", &self.lib).finish()
    }
}

impl UserModel {
    /// The cores the design was verilated with (its `NumCores`).
    pub fn num_cores(&self) -> usize {
        self.lib.api.num_cores as usize
    }

    /// A new instance.
    pub fn new(lib: Arc<UserLib>) -> Result<Self, String> {
        let mut err: *const c_char = std::ptr::null();
        // SAFETY: `create` fills `err` when it returns null.
        let h = unsafe { (lib.api.create)(&mut err) };
        match NonNull::new(h) {
            Some(h) => Ok(UserModel { lib, h }),
            None => Err(c_msg(err).unwrap_or_else(|| "cannot create the user model".into())),
        }
    }

    /// One cycle (see `ffi::Model::step`).
    #[inline]
    pub fn step(&mut self, inp: &TopIn, out: &mut TopOut) -> Result<(), String> {
        // SAFETY: a live instance; the structs' layout was checked at load.
        c_result(unsafe { (self.lib.api.step)(self.h.as_ptr(), inp, out) })
    }

    /// `n` cycles with `inp` held.
    pub fn step_n(&mut self, inp: &TopIn, n: u64, out: &mut TopOut) -> Result<(), String> {
        // SAFETY: as in `step`.
        c_result(unsafe { (self.lib.api.step_n)(self.h.as_ptr(), inp, n, out) })
    }

    /// Starts a waveform (the build must be VCD or FST).
    pub fn open_trace(&mut self, path: &str) -> Result<(), String> {
        let p = CString::new(path).map_err(|e| e.to_string())?;
        // SAFETY: a live instance and a NUL-terminated path.
        c_result(unsafe { (self.lib.api.open_trace)(self.h.as_ptr(), p.as_ptr()) })
    }

    /// Flushes and closes the waveform.
    pub fn close_trace(&mut self) {
        // SAFETY: a live instance.
        unsafe { (self.lib.api.close_trace)(self.h.as_ptr()) }
    }

    /// Cycles stepped.
    pub fn cycles(&self) -> u64 {
        // SAFETY: a live instance.
        unsafe { (self.lib.api.cycles)(self.h.as_ptr()) }
    }

    /// Batched mode: the responder's memory.
    pub fn auto_load(&mut self, words: &[u64]) {
        // SAFETY: a live instance and a valid slice.
        unsafe { (self.lib.api.auto_load)(self.h.as_ptr(), words.as_ptr(), words.len()) }
    }

    /// The responder memory's word at `addr`.
    pub fn auto_word(&self, addr: u64) -> Result<u64, String> {
        let mut w = 0u64;
        // SAFETY: a live instance; the call only reads the model.
        c_result(unsafe { (self.lib.api.auto_word)(self.h.as_ptr(), addr, &mut w) })?;
        Ok(w)
    }

    /// Ports in flight in the responder.
    pub fn auto_in_flight(&self) -> u32 {
        // SAFETY: a live instance.
        unsafe { (self.lib.api.auto_in_flight)(self.h.as_ptr()) }
    }

    /// Batched mode (see `ffi::Model::run_autonomous`).
    pub fn run_autonomous(
        &mut self,
        inp: &TopIn,
        n: u64,
        stop: &AutoStop,
        out: &mut TopOut,
    ) -> Result<u64, String> {
        let mut ran = 0u64;
        // SAFETY: a live instance and valid structs.
        c_result(unsafe {
            (self.lib.api.run_autonomous)(self.h.as_ptr(), inp, n, stop, out, &mut ran)
        })?;
        Ok(ran)
    }
}

impl Drop for UserModel {
    fn drop(&mut self) {
        // SAFETY: the instance was created by this library and is destroyed once.
        unsafe { (self.lib.api.destroy)(self.h.as_ptr()) }
    }
}

/// Which RTL a scenario runs on.
#[derive(Clone, Debug, Default)]
pub enum Rtl {
    /// The RTL compiled into this binary (`rtl/avic.f`, top `avic_top`).
    #[default]
    Bundled,
    /// A user's design, built at run time.
    User(Arc<UserRtl>),
    /// A design's coverage build (the bundled RTL's or a user's): plain runs execute on it and
    /// add their counters to the [`Coverage`]; traced runs use the design's traced build.
    Coverage(Arc<Coverage>),
}

impl PartialEq for Rtl {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Rtl::Bundled, Rtl::Bundled) => true,
            (Rtl::User(a), Rtl::User(b)) => a.key == b.key && a.cache == b.cache,
            (Rtl::Coverage(a), Rtl::Coverage(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Rtl {}

impl fmt::Display for Rtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rtl::Bundled => write!(f, "bundled RTL (rtl/avic.f, top avic_top)"),
            Rtl::User(u) => write!(f, "{} (top {})", u.filelist.display(), u.top),
            Rtl::Coverage(c) => write!(
                f,
                "{} (top {}), coverage build",
                c.rtl.filelist.display(),
                c.rtl.top
            ),
        }
    }
}

/// The bundled RTL's headers (`rtl/*.svh`, found through `+incdir+rtl` of `rtl/avic.f`),
/// embedded with the sources.
const BUNDLED_HEADERS: &[(&str, &str)] = &[
    ("avic_assert.svh", include_str!("../rtl/avic_assert.svh")),
    (
        "avic_top_ports.svh",
        include_str!("../rtl/avic_top_ports.svh"),
    ),
];

/// The bundled RTL's sources, in `rtl/avic.f` order, embedded for coverage builds from an
/// installed binary.
const BUNDLED: &[(&str, &str)] = &[
    ("avic_pkg.sv", include_str!("../rtl/avic_pkg.sv")),
    (
        "avic_ipi_sender.sv",
        include_str!("../rtl/avic_ipi_sender.sv"),
    ),
    ("avic_irq_eval.sv", include_str!("../rtl/avic_irq_eval.sv")),
    ("avic_core.sv", include_str!("../rtl/avic_core.sv")),
    ("avic_top.sv", include_str!("../rtl/avic_top.sv")),
];

impl UserRtl {
    /// The bundled RTL (`rtl/avic.f`, top `avic_top`) as a design the runtime builder can
    /// build, for flavors the crate does not compile in (coverage). Its sources are the
    /// repository's `rtl/` when this binary's source tree is present (so reports name
    /// `rtl/*.sv`), else copies written from the binary into the cache.
    pub fn bundled(opts: &RtlOptions) -> Result<Arc<Self>, RtlError> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl");
        let same = BUNDLED
            .iter()
            .chain(BUNDLED_HEADERS)
            .all(|(n, text)| fs::read_to_string(repo.join(n)).is_ok_and(|t| t == *text));
        let cache = opts.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let dir = if same {
            repo
        } else {
            let mut h = Sha256::new();
            for (n, t) in BUNDLED.iter().chain(BUNDLED_HEADERS) {
                h.update(n.as_bytes());
                h.update(t.as_bytes());
            }
            let d = cache.join(format!("bundled-rtl-{}", &hex(&h.finalize())[..16]));
            fs::create_dir_all(&d).map_err(io_err(&d))?;
            for (n, t) in BUNDLED.iter().chain(BUNDLED_HEADERS) {
                let p = d.join(n);
                if fs::read_to_string(&p).ok().as_deref() != Some(*t) {
                    fs::write(&p, t).map_err(io_err(&p))?;
                }
            }
            d
        };
        let design = Design {
            sources: BUNDLED.iter().map(|(n, _)| dir.join(n)).collect(),
            incdirs: vec![dir.clone()],
            ..Design::default()
        };
        let top = "avic_top";
        let key = design_key(&design, top)?;
        Ok(Arc::new(UserRtl {
            filelist: dir.join("avic.f"),
            top: top.to_string(),
            design,
            cache,
            key,
            bundled: true,
            built: Default::default(),
        }))
    }
}

/// Line, toggle and branch coverage of a design merged over every model instance of an
/// exploration: each plain run of a scenario whose [`Rtl`] is [`Rtl::Coverage`] executes on
/// the design's `--coverage` build, and when its model is dropped its counters are added here.
/// Sums do not depend on the order, so with the searches' fixed batches (see
/// [`crate::explore`]) the result is the same whatever the thread count. Traced runs
/// (waveforms of counterexamples) use the design's traced build and are not counted.
pub struct Coverage {
    rtl: Arc<UserRtl>,
    lib: Arc<UserLib>,
    counts: std::sync::Mutex<CoverageCounts>,
}

struct CoverageCounts {
    /// Sum of every counted instance's counters, by point index.
    acc: Vec<u64>,
    runs: u64,
}

impl fmt::Debug for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coverage")
            .field("rtl", &self.rtl)
            .finish_non_exhaustive()
    }
}

/// Hits and totals of one kind of coverage point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Points hit at least once.
    pub hit: u64,
    /// Points.
    pub total: u64,
}

/// What [`Coverage::write_info`] reports.
#[derive(Clone, Debug, Default)]
pub struct CoverageSummary {
    /// Runs whose counters were merged.
    pub runs: u64,
    /// Line (block) points.
    pub lines: Tally,
    /// Toggle points (one per bit and direction).
    pub toggles: Tally,
    /// Branch points.
    pub branches: Tally,
    /// Up to 12 points never hit, as `file:line kind (hierarchy)`, in file and line order.
    pub unhit: Vec<String>,
    /// The merged counters (Verilator's `coverage.dat` format).
    pub dat: PathBuf,
}

impl fmt::Display for CoverageSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |t: Tally| {
            if t.total == 0 {
                0.0
            } else {
                100.0 * t.hit as f64 / t.total as f64
            }
        };
        writeln!(f, "coverage of {} runs:", self.runs)?;
        for (name, t) in [
            ("lines", self.lines),
            ("toggles", self.toggles),
            ("branches", self.branches),
        ] {
            if t.total > 0 {
                writeln!(
                    f,
                    "  {name:<8} {:>6} / {:<6} hit ({:.1}%)",
                    t.hit,
                    t.total,
                    pct(t)
                )?;
            }
        }
        if !self.unhit.is_empty() {
            writeln!(f, "  never reached (first {}):", self.unhit.len())?;
            for u in &self.unhit {
                writeln!(f, "    {u}")?;
            }
        }
        Ok(())
    }
}

/// Fields of one coverage point key (`\x01name\x02value` pairs).
fn point_fields(key: &str) -> std::collections::HashMap<&str, &str> {
    key.split('\u{1}')
        .filter_map(|kv| kv.split_once('\u{2}'))
        .collect()
}

impl Coverage {
    /// Builds (or takes from the cache) the coverage flavor of `rtl`.
    pub fn new(rtl: Arc<UserRtl>) -> Result<Arc<Self>, RtlError> {
        let lib = rtl.load(Flavor::Coverage)?;
        // SAFETY: a function of the loaded library without arguments.
        let n = unsafe { (lib.api.coverage_points)() };
        Ok(Arc::new(Coverage {
            rtl,
            lib,
            counts: std::sync::Mutex::new(CoverageCounts {
                acc: vec![0; n],
                runs: 0,
            }),
        }))
    }

    /// The design.
    pub fn rtl(&self) -> &Arc<UserRtl> {
        &self.rtl
    }

    /// How the coverage build was obtained.
    pub fn build_info(&self) -> &BuildInfo {
        self.lib.info()
    }

    /// A new instance of the coverage build (counted when [`Coverage::absorb`] is given it).
    pub fn instance(&self) -> Result<UserModel, String> {
        UserModel::new(self.lib.clone())
    }

    /// Runs merged so far.
    pub fn runs(&self) -> u64 {
        self.counts.lock().map(|c| c.runs).unwrap_or(0)
    }

    /// Adds the counters of `m`, an instance of [`Coverage::instance`] (the `Dut` of a
    /// scenario on [`Rtl::Coverage`] does it when dropped).
    pub fn absorb(&self, m: &mut UserModel) {
        if let Ok(mut c) = self.counts.lock() {
            let n = c.acc.len();
            // SAFETY: a live instance of this coverage build and an array of its point count.
            unsafe { (m.lib.api.coverage_add)(m.h.as_ptr(), c.acc.as_mut_ptr(), n) };
            c.runs += 1;
        }
    }

    /// Writes the merged counters as Verilator's `coverage.dat` (beside `info`, extension
    /// `.dat`) and converts them to lcov with `verilator_coverage --write-info info`.
    pub fn write_info(&self, info: &Path) -> Result<CoverageSummary, RtlError> {
        let c = self.counts.lock().map_err(|_| RtlError::Io {
            path: info.to_path_buf(),
            msg: "coverage counters poisoned by a panic".into(),
        })?;
        let dat = info.with_extension("dat");
        if let Some(d) = dat.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(d).map_err(io_err(d))?;
        }
        let p = CString::new(dat.to_string_lossy().as_bytes()).map_err(|e| RtlError::Io {
            path: dat.clone(),
            msg: e.to_string(),
        })?;
        // SAFETY: the counters array and a NUL-terminated path; the error string is the
        // calling thread's.
        let err = unsafe { (self.lib.api.coverage_write)(c.acc.as_ptr(), c.acc.len(), p.as_ptr()) };
        if let Some(msg) = c_msg(err) {
            return Err(RtlError::Io { path: dat, msg });
        }
        let text = fs::read_to_string(&dat).map_err(io_err(&dat))?;
        let tool = verilator_cmd().with_file_name("verilator_coverage");
        let tool = if verilator_cmd().components().count() > 1 {
            tool
        } else {
            PathBuf::from("verilator_coverage")
        };
        let o = run(
            Command::new(&tool).arg("--write-info").arg(info).arg(&dat),
            &tool,
        )?;
        if !o.status.success() {
            return Err(RtlError::Io {
                path: info.to_path_buf(),
                msg: format!(
                    "verilator_coverage failed: {}",
                    first_errors(&String::from_utf8_lossy(&o.stderr), "%Error")
                ),
            });
        }
        let mut s = CoverageSummary {
            runs: c.runs,
            dat,
            ..CoverageSummary::default()
        };
        let mut unhit: Vec<(String, u64, String)> = Vec::new();
        for line in text.lines() {
            let Some((k, n)) = line.strip_prefix("C '").and_then(|r| r.rsplit_once("' ")) else {
                continue;
            };
            let n: u64 = n.trim().parse().unwrap_or(0);
            let f = point_fields(k);
            let page = f.get("page").copied().unwrap_or("");
            let t = if page.starts_with("v_toggle") {
                &mut s.toggles
            } else if page.starts_with("v_branch") {
                &mut s.branches
            } else if page.starts_with("v_line") {
                &mut s.lines
            } else {
                continue;
            };
            t.total += 1;
            if n > 0 {
                t.hit += 1;
            } else if !page.starts_with("v_toggle") {
                let file = f.get("f").copied().unwrap_or("?");
                let line: u64 = f.get("l").and_then(|l| l.parse().ok()).unwrap_or(0);
                let what = format!(
                    "{} ({})",
                    f.get("o").copied().unwrap_or(""),
                    f.get("h").copied().unwrap_or("")
                );
                unhit.push((file.to_string(), line, what));
            }
        }
        unhit.sort();
        unhit.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        s.unhit = unhit
            .into_iter()
            .take(12)
            .map(|(f, l, w)| format!("{f}:{l} {w}"))
            .collect();
        Ok(s)
    }
}
