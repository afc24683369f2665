//! The mutation score's machinery (docs/verification.md): the checked-in list parses, every
//! mutant applies to today's RTL, every class is covered twice; one real mutant is killed and
//! the unmutated RTL survives the golden matrix of one cheap scenario.

use avic_cosim::mutants::{self, Class, Fate, Mutant, Setup};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn list() -> Vec<Mutant> {
    mutants::load_list(&repo().join("tb/mutants/mutants.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Builds of this file's mutants, kept between runs under the target directory (never the
/// user's cache).
fn setup() -> Setup {
    Setup::new(
        repo(),
        Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mutants-cache")),
    )
}

#[test]
fn the_list_parses_applies_and_covers_every_class_twice() {
    let l = list();
    assert!(l.len() >= 24, "{} mutants", l.len());
    for m in &l {
        mutants::apply(m, repo()).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.find != m.replace, "mutant {}: no edit", m.id);
        assert!(
            m.what.ends_with('.') && !m.what.trim_end_matches('.').contains(". "),
            "mutant {}: `what` is one sentence",
            m.id
        );
    }
    for c in Class::ALL {
        let n = l.iter().filter(|m| m.covers == c).count();
        assert!(n >= 2, "class {c}: {n} mutants");
    }
    for f in [
        "rtl/avic_ipi_sender.sv",
        "rtl/avic_irq_eval.sv",
        "rtl/avic_core.sv",
        "rtl/avic_top.sv",
    ] {
        assert!(l.iter().any(|m| m.file == f), "no mutant of {f}");
    }
    let quick: Vec<&Mutant> = l.iter().filter(|m| m.quick).collect();
    assert!(quick.len() >= 4, "quick subset: {}", quick.len());
    let mut classes: Vec<Class> = quick.iter().map(|m| m.covers).collect();
    classes.sort();
    classes.dedup();
    assert!(classes.len() >= 4, "quick subset spans {classes:?}");
}

/// EXITINFO1 with its halves swapped: the first cell of the cheapest scenario that exits sees
/// the exit-info protocol violated.
#[test]
fn a_wrong_exitinfo1_is_killed() {
    let t = Instant::now();
    let m = mutants::select(&list(), &["exitinfo1-halves-swapped".into()]).unwrap();
    let plan = mutants::plan(
        &repo().join("scenarios"),
        &repo().join("tb/golden"),
        Some(&["invalid-target".into()]),
    )
    .unwrap();
    let o = mutants::run_mutant(&m[0], &setup(), &plan).unwrap();
    eprintln!("{o} ({:.1} s)", t.elapsed().as_secs_f64());
    match &o.fate {
        Fate::Killed { actual, .. } => {
            assert_eq!(
                actual.invariant.as_deref(),
                Some("exit-info-protocol"),
                "{o}"
            )
        }
        other => panic!("not killed: {other:?}"),
    }
    assert!(o
        .to_string()
        .starts_with("exitinfo1-halves-swapped  killed by invalid-target "));
}

/// The bundled RTL through the same path (an identity edit) matches the golden matrix of
/// invalid-target in every cell: the mutants' path is the goldens' path.
#[test]
fn the_unmutated_rtl_survives() {
    let t = Instant::now();
    let identity = Mutant {
        id: "identity".into(),
        file: "rtl/avic_top.sv".into(),
        find: "assign doorbell_recv_o = doorbell_in;".into(),
        replace: "assign doorbell_recv_o = doorbell_in;".into(),
        what: "Nothing.".into(),
        covers: Class::DoorbellRouting,
        quick: false,
        equivalent: Some("the identity".into()),
    };
    let plan = mutants::plan(
        &repo().join("scenarios"),
        &repo().join("tb/golden"),
        Some(&["invalid-target".into()]),
    )
    .unwrap();
    let o = mutants::run_mutant(&identity, &setup(), &plan).unwrap();
    eprintln!("{o} ({:.1} s)", t.elapsed().as_secs_f64());
    assert_eq!(o.fate, Fate::Survived, "{o}");
    assert_eq!(o.cells, plan[0].cells.len());
}
