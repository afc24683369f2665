//! Golden matrices (docs/verification.md): every scenario file's full matrix, run in-process,
//! equals its checked-in `tb/golden/NAME.matrix`; a flipped cell fails with the scenario's name
//! and the per-cell diff. The README's verdict table agrees with the seed's golden file.

use avic_cosim::golden::{self, GoldenCell, GoldenVerdict};
use avic_cosim::scenario;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// One test for all scenario files, found at run time (a file added to `scenarios/` is checked
/// without editing this test); every scenario runs and every failure is reported, each under
/// its scenario's name.
#[test]
fn every_scenario_matches_its_golden_matrix() {
    let files = golden::scenario_files(&repo("scenarios")).unwrap();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let all = Instant::now();
    for (name, path) in &files {
        let t = Instant::now();
        let gp = golden::golden_path(&repo("tb/golden"), name);
        let Ok(expected) = std::fs::read_to_string(&gp) else {
            failures.push(format!(
                "scenario {name}: no golden file {}: run `make golden` and review the new file",
                gp.display()
            ));
            continue;
        };
        let f = scenario::load(path).unwrap_or_else(|e| panic!("scenario {name}: {e}"));
        let m = golden::full_matrix(name, &f).unwrap_or_else(|e| panic!("scenario {name}: {e}"));
        let actual = golden::render(name, &m);
        if let Some(d) = golden::diff(&expected, &actual) {
            failures.push(format!(
                "scenario {name}: the matrix differs from {} (- golden, + now; if the change is \
                 intended, run `make golden` and say why in the commit):\n{d}",
                gp.display()
            ));
        }
        eprintln!(
            "golden: scenario {name}: {} cells in {:.1} s",
            m.cells.len(),
            t.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "golden: {} scenarios in {:.1} s",
        files.len(),
        all.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// No golden file outlives its scenario (`make golden` removes such files).
#[test]
fn every_golden_file_has_a_scenario() {
    for e in std::fs::read_dir(repo("tb/golden")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let stem = name
            .strip_suffix(".matrix")
            .unwrap_or_else(|| panic!("tb/golden/{name}: only NAME.matrix files belong here"));
        assert!(
            repo(&format!("scenarios/{stem}.toml")).is_file(),
            "tb/golden/{name}: no scenarios/{stem}.toml (run `make golden`)"
        );
        let text = std::fs::read_to_string(&p).unwrap();
        golden::parse(&text).unwrap_or_else(|e| panic!("tb/golden/{name}: {e}"));
        assert_eq!(
            text.lines().next(),
            Some(golden::header(stem).as_str()),
            "tb/golden/{name}"
        );
    }
}

/// What a README table cell says: the verdict and the invariant of a violation.
fn readme_verdict(text: &str) -> Result<(GoldenVerdict, Option<&'static str>), String> {
    // Parenthesised annotations (`(C2b)`) name the history, not the verdict.
    let mut plain = String::new();
    let mut depth = 0;
    for ch in text.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    match plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .as_str()
    {
        "holds" | "hold" => Ok((GoldenVerdict::Holds, None)),
        "partial" => Ok((GoldenVerdict::Partial, None)),
        "duplicate IPI" => Ok((GoldenVerdict::Violated, Some("no-duplicate-ipi"))),
        "lost wake-up" => Ok((GoldenVerdict::Violated, Some("no-lost-wakeup"))),
        "lost IPI" => Ok((GoldenVerdict::Violated, Some("no-lost-ipi"))),
        other => Err(format!(
            "README cell `{text}`: `{other}` is no verdict this test knows"
        )),
    }
}

fn cells_of(row: &str) -> Vec<String> {
    let t = row.trim().trim_start_matches('|').trim_end_matches('|');
    t.split('|').map(|c| c.trim().to_string()).collect()
}

/// The table under "What it shows, in short" in README.md: rows are groups of hardware
/// variants, columns groups of KVM rows; every golden cell the table covers must agree with it
/// (verdict and invariant; vCPU and vector when the line above the table names them).
#[test]
fn the_readme_table_agrees_with_the_seed_golden() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("What it shows, in short"))
        .expect("README.md has the paragraph \"What it shows, in short\"");
    // "(violations are all on vCPU 1, vector 0x40)"
    let named = lines[at].split("vCPU ").nth(1).and_then(|r| {
        let (vcpu, rest) = r.split_once(", vector 0x")?;
        let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        Some((vcpu.parse::<u8>().ok()?, u8::from_str_radix(&hex, 16).ok()?))
    });
    let table: Vec<&str> = lines[at + 1..]
        .iter()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .copied()
        .collect();
    assert!(
        table.len() > 2,
        "README.md: no table after \"What it shows\""
    );
    let header = cells_of(table[0]);
    let kvm_groups: Vec<Vec<String>> = header[1..]
        .iter()
        .map(|g| g.split(',').map(|k| k.trim().to_string()).collect())
        .collect();
    let gold =
        golden::parse(&std::fs::read_to_string(repo("tb/golden/seed.matrix")).unwrap()).unwrap();
    let find = |hw: &str, kvm: &str| -> Option<&GoldenCell> {
        gold.iter().find(|c| c.hw == hw && c.kvm == kvm)
    };
    let mut problems = Vec::new();
    let mut covered = 0;
    for row in &table[2..] {
        let cells = cells_of(row);
        assert_eq!(cells.len(), header.len(), "README.md row `{row}`");
        for hw in cells[0].split(',').map(str::trim) {
            for (group, text) in kvm_groups.iter().zip(&cells[1..]) {
                let (verdict, invariant) = readme_verdict(text).unwrap();
                for kvm in group {
                    let Some(g) = find(hw, kvm) else {
                        problems.push(format!(
                            "README names {hw}/{kvm}, the seed has no such cell"
                        ));
                        continue;
                    };
                    covered += 1;
                    let mut ok = g.verdict == verdict && g.invariant.as_deref() == invariant;
                    // A cell may name its own vector: `lost wake-up (vector 0xec)`.
                    let own = text.split("vector 0x").nth(1).and_then(|r| {
                        let hex: String = r.chars().take_while(char::is_ascii_hexdigit).collect();
                        u8::from_str_radix(&hex, 16).ok()
                    });
                    let named = named.map(|(vcpu, vector)| (vcpu, own.unwrap_or(vector)));
                    if let (Some((vcpu, vector)), GoldenVerdict::Violated) = (named, verdict) {
                        ok &= g.vcpu == Some(vcpu) && g.vector == Some(vector);
                    }
                    if !ok {
                        problems.push(format!(
                            "{hw}/{kvm}: README says `{text}`, tb/golden/seed.matrix says {}",
                            g.summary()
                        ));
                    }
                }
            }
        }
    }
    assert!(covered > 0);
    assert!(
        problems.is_empty(),
        "README.md's verdict table disagrees with tb/golden/seed.matrix in {} of {covered} \
         cells:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn readme_cells_parse() {
    assert_eq!(
        readme_verdict("lost wake-up (C2b)"),
        Ok((GoldenVerdict::Violated, Some("no-lost-wakeup")))
    );
    assert_eq!(readme_verdict(" hold "), Ok((GoldenVerdict::Holds, None)));
    assert!(readme_verdict("fine").is_err());
}
