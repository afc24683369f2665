//! Verilates `rtl/` into `OUT_DIR` four times (plain, `--trace`, `--trace-fst`, `--savable`) and
//! compiles the models with the C++ shim and the `cxx` bridge. Verilator's runtime (`verilated.cpp` and
//! friends) is compiled once into its own static library and reused while the Verilator version
//! and flags stay the same, so an RTL edit only rebuilds the model. Reruns only when the RTL, the
//! shim, the bridge or this file changes.
//!
//! Why not the `verilated`/`verilator` crates: see README.md, "Dependencies".

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// Oldest Verilator this build supports: Debian bookworm's.
const MIN_VERILATOR: (u32, u32) = (5, 6);

/// Flags that keep the model fast: Verilator's makefile would use -Os (2x slower); `-fPIC`
/// without `-fno-semantic-interposition` blocks inlining across the model's functions (2x).
const CXX_FLAGS: &[&str] = &[
    "-fno-semantic-interposition",
    "-faligned-new",
    "-fcf-protection=none",
    "-Wno-bool-operation",
    "-Wno-sign-compare",
    "-Wno-uninitialized",
    "-Wno-unused-but-set-variable",
    "-Wno-unused-parameter",
    "-Wno-unused-variable",
    "-Wno-shadow",
];

/// Defines shared by the runtime and the models: every trace format available, and
/// Verilator's exit/abort hooks replaced by the shim's (they throw; Rust gets an `Err`).
const DEFINES: &[(&str, &str)] = &[
    ("VM_COVERAGE", "0"),
    ("VM_SC", "0"),
    ("VM_TRACE", "1"),
    ("VM_TRACE_VCD", "1"),
    ("VM_TRACE_FST", "1"),
    ("VL_USER_FINISH", "1"),
    ("VL_USER_STOP", "1"),
    ("VL_USER_FATAL", "1"),
];

struct Flavor {
    prefix: &'static str,
    /// Extra Verilator flag of the flavor (tracing, or `--savable` for snapshots).
    flag: Option<&'static str>,
}

const FLAVORS: &[Flavor] = &[
    Flavor {
        prefix: "VavicPlain",
        flag: None,
    },
    Flavor {
        prefix: "VavicVcd",
        flag: Some("--trace"),
    },
    Flavor {
        prefix: "VavicFst",
        flag: Some("--trace-fst"),
    },
    Flavor {
        prefix: "VavicSavable",
        flag: Some("--savable"),
    },
];

fn fail(msg: &str) -> ! {
    eprintln!("\nerror: {msg}\n");
    exit(1);
}

const INSTALL_HINT: &str = "install Verilator 5.006 or newer: on Debian or Ubuntu \
     `sudo apt-get install -y verilator zlib1g-dev` (or `make deps`), or set VERILATOR to its path";

fn verilator_bin() -> String {
    env::var("VERILATOR").unwrap_or_else(|_| "verilator".to_string())
}

/// `Verilator 5.006 2023-01-22 rev (Debian 5.006-3)` -> (5, 6).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.split_whitespace().nth(1)?;
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn check_verilator(bin: &str) -> String {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run `{bin} --version` ({e}): Verilator is missing; {INSTALL_HINT}"
            ))
        });
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_version(&text) {
        Some(v) if v >= MIN_VERILATOR => text,
        Some((a, b)) => fail(&format!(
            "found Verilator {a}.{b:03} (`{text}`), avic-cosim needs {}.{:03} or newer; {INSTALL_HINT}",
            MIN_VERILATOR.0, MIN_VERILATOR.1
        )),
        None => fail(&format!("cannot read the version from `{bin} --version`: `{text}`; {INSTALL_HINT}")),
    }
}

fn verilator_include(bin: &str) -> PathBuf {
    let root = match env::var("VERILATOR_ROOT") {
        Ok(r) if !r.is_empty() => r,
        _ => {
            let out = Command::new(bin)
                .args(["--getenv", "VERILATOR_ROOT"])
                .output();
            match out {
                Ok(o) if o.status.success() => {
                    String::from_utf8_lossy(&o.stdout).trim().to_string()
                }
                _ => fail(&format!(
                    "`{bin} --getenv VERILATOR_ROOT` failed; {INSTALL_HINT}"
                )),
            }
        }
    };
    let inc = Path::new(&root).join("include");
    if !inc.join("verilated.cpp").exists() {
        fail(&format!(
            "Verilator's runtime sources are not in {}; {INSTALL_HINT}",
            inc.display()
        ));
    }
    inc
}

/// Verilates the RTL for one flavor and writes one translation unit including every generated
/// .cpp (like Verilator's own __ALL.cpp): one TU lets gcc inline across the model.
fn verilate(bin: &str, root: &Path, out: &Path, f: &Flavor) -> PathBuf {
    let mdir = out.join(format!("vobj-{}", f.prefix));
    let _ = fs::remove_dir_all(&mdir);
    let mut cmd = Command::new(bin);
    cmd.current_dir(root)
        .args([
            "--cc",
            "-O3",
            "--x-assign",
            "fast",
            "--x-initial",
            "fast",
            "--assert",
        ])
        .args(["--top-module", "avic_top", "--prefix", f.prefix])
        .arg("--Mdir")
        .arg(&mdir)
        .args(["-f", "rtl/avic.f"]);
    if let Some(t) = f.flag {
        cmd.arg(t);
    }
    let o = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run {bin}: {e}")));
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        let first: Vec<&str> = err.lines().take(20).collect();
        fail(&format!(
            "Verilator failed on rtl/avic.f ({}):\n{}",
            f.prefix,
            first.join("\n")
        ));
    }
    let mut srcs: Vec<String> = fs::read_dir(&mdir)
        .unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", mdir.display())))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(f.prefix) && n.ends_with(".cpp"))
        .collect();
    srcs.sort();
    let mut all = String::new();
    for s in &srcs {
        let _ = writeln!(all, "#include \"{s}\"");
    }
    let tu = mdir.join(format!("{}__all.cpp", f.prefix));
    fs::write(&tu, all).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", tu.display())));
    tu
}

fn configure(b: &mut cc::Build, inc: &Path) {
    b.cpp(true)
        .std("c++17")
        .opt_level(3)
        .debug(false)
        .warnings(false)
        .include(inc)
        .include(inc.join("vltstd"));
    for fl in CXX_FLAGS {
        b.flag_if_supported(fl);
    }
    for (k, v) in DEFINES {
        b.define(k, *v);
    }
}

/// Runtime sources compiled into the static library.
const RUNTIME_SOURCES: &[&str] = &[
    "verilated.cpp",
    "verilated_threads.cpp",
    "verilated_vcd_c.cpp",
    "verilated_fst_c.cpp",
    "verilated_save.cpp",
];

/// Verilator's runtime as a static library, rebuilt only when its inputs change.
fn runtime_lib(inc: &Path, out: &Path, version: &str) {
    let mut key = format!("{version}|{}|{}|", inc.display(), RUNTIME_SOURCES.join(","));
    for f in CXX_FLAGS {
        key.push_str(f);
    }
    for (k, v) in DEFINES {
        let _ = write!(key, "{k}={v};");
    }
    let dir = out.join("verilator-runtime");
    let stamp = dir.join("stamp");
    let lib = dir.join("libavic_vlrt.a");
    let fresh = fs::read_to_string(&stamp)
        .map(|s| s == key)
        .unwrap_or(false)
        && lib.exists();
    if !fresh {
        let _ = fs::create_dir_all(&dir);
        let mut b = cc::Build::new();
        configure(&mut b, inc);
        b.out_dir(&dir).cargo_metadata(false);
        for f in RUNTIME_SOURCES {
            b.file(inc.join(f));
        }
        b.compile("avic_vlrt");
        fs::write(&stamp, &key)
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", stamp.display())));
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static=avic_vlrt");
}

/// `avic_top`'s core count by default: the default of its `NumCores` parameter in
/// `rtl/avic_top.sv`, the one place it is written. The bundled builds are verilated with it, the
/// C++ model gets it as `AVIC_NUM_CORES` (and checks it against the ports' widths), and the
/// crate as `AVIC_DEFAULT_CORES` (`dut::DEFAULT_CORES`).
fn default_cores(root: &Path) -> u32 {
    let p = root.join("rtl/avic_top.sv");
    let text = fs::read_to_string(&p)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", p.display())));
    text.lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("parameter int NumCores")?;
            rest.trim()
                .strip_prefix('=')?
                .trim()
                .trim_end_matches([',', ')'])
                .trim()
                .parse()
                .ok()
        })
        .filter(|n| (1..=8).contains(n))
        .unwrap_or_else(|| {
            fail(&format!(
                "{}: no `parameter int NumCores = N` with N in 1..=8",
                p.display()
            ))
        })
}

fn main() {
    for p in [
        "rtl",
        "bindings/shim.cpp",
        "bindings/shim.h",
        "bindings/model_impl.h",
        "bindings/snapshot.h",
        "bindings/vl_hooks.h",
        "bindings/ffi.rs",
        "tb/cpp/responder.h",
        "build.rs",
    ] {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-env-changed=VERILATOR");
    println!("cargo:rerun-if-env-changed=VERILATOR_ROOT");

    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bin = verilator_bin();
    let version = check_verilator(&bin);
    let inc = verilator_include(&bin);

    let cores = default_cores(&root);
    println!("cargo:rustc-env=AVIC_DEFAULT_CORES={cores}");
    let mut b = cxx_build::bridge("bindings/ffi.rs");
    configure(&mut b, &inc);
    b.define("AVIC_NUM_CORES", cores.to_string().as_str());
    b.file("bindings/shim.cpp").include(root.join("tb/cpp"));
    for f in FLAVORS {
        let tu = verilate(&bin, &root, &out, f);
        b.file(&tu).include(tu.parent().expect("vobj dir"));
    }
    b.compile("avic_model");

    // After the model: the model's objects reference the runtime, and the runtime calls the
    // shim's vl_stop/vl_fatal hooks, which the model library already brought in.
    runtime_lib(&inc, &out, &version);
    println!("cargo:rustc-link-lib=z");
    println!("cargo:rustc-link-lib=pthread");
}
