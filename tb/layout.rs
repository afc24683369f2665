//! The layout table (README.md, section "Layout") matches the tree: every path it names exists,
//! and every source file under `harness/`, `rtl/` and `bindings/` is named in it, by its path or
//! by its file name in the row of a folder it names (`harness/kvm/` ... `variant.rs`).

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The table's rows: the text of every line starting with `|` under `## Layout`.
fn rows() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Layout\n")
        .expect("README.md has a Layout section");
    readme[start + 1..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with('|'))
        .map(str::to_string)
        .collect()
}

/// Paths in backquotes in the first column of `row`, braces expanded (`shim.{h,cpp}`).
fn paths(row: &str) -> Vec<String> {
    let first = row.split('|').nth(1).unwrap_or("");
    let mut out = Vec::new();
    for quoted in first.split('`').skip(1).step_by(2) {
        match (quoted.find('{'), quoted.find('}')) {
            (Some(a), Some(b)) if a < b => {
                for alt in quoted[a + 1..b].split(',') {
                    out.push(format!("{}{alt}{}", &quoted[..a], &quoted[b + 1..]));
                }
            }
            _ => out.push(quoted.to_string()),
        }
    }
    out
}

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, exts, out);
        } else if exts.iter().any(|x| p.extension().is_some_and(|e| e == *x)) {
            out.push(p);
        }
    }
}

#[test]
fn every_path_the_layout_table_names_exists() {
    let rows = rows();
    assert!(rows.len() > 10, "the Layout table has rows");
    for row in &rows {
        for p in paths(row) {
            if p == "path" || p.contains('*') || p.contains("NAME") {
                continue;
            }
            assert!(
                root().join(&p).exists(),
                "README Layout names `{p}`, which does not exist"
            );
        }
    }
}

#[test]
fn every_source_file_is_in_the_layout_table() {
    let rows = rows();
    let mut all = Vec::new();
    for (dir, exts) in [
        ("harness", &["rs"][..]),
        ("rtl", &["sv", "svh", "f"][..]),
        ("bindings", &["rs", "h", "cpp"][..]),
    ] {
        files(&root().join(dir), exts, &mut all);
    }
    assert!(all.len() > 50, "found {} source files", all.len());
    let mut missing = Vec::new();
    for f in &all {
        let rel = f
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .to_string();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let named = rows.iter().any(|row| {
            let ps = paths(row);
            ps.contains(&rel)
                || (ps
                    .iter()
                    .any(|p| p.ends_with('/') && rel.starts_with(p.as_str()))
                    && row.contains(&format!("`{name}`")))
                || ps.iter().any(|p| {
                    p.ends_with('/') && rel.starts_with(p.as_str()) && {
                        // A file of a sub-folder named with its folder (`thread/exec.rs`).
                        let sub = &rel[p.len()..];
                        row.contains(&format!("`{sub}`"))
                    }
                })
        });
        if !named {
            missing.push(rel);
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "source files the README's Layout table does not name: {missing:?}"
    );
}
