//! A waveform in memory: a scope tree of variables and their value changes in time order. Read
//! from Verilator's VCD (a small parser for what Verilator writes: scopes, vars, `#t`, scalar and
//! `b` vector changes), extended with the software lanes, written as VCD or FST.

use std::fmt::Write as _;
use std::io::{self, BufRead, Write};

/// One entry of the scope tree, in declaration order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// `$scope module name`.
    Scope(String),
    /// A variable.
    Var(Var),
    /// `$upscope`.
    Up,
}

/// A declared variable; several may share one signal (`id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Var {
    /// Name without the bit range.
    pub name: String,
    /// `[msb:lsb]` as declared, if any.
    pub range: Option<String>,
    /// Bits.
    pub width: u32,
    /// Signal index.
    pub id: usize,
}

/// A value change: time, signal, value (`0 1 x z` characters, exactly the signal's width).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub time: u64,
    pub id: usize,
    pub value: Vec<u8>,
}

/// A whole waveform.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trace {
    /// `$timescale`, e.g. `1ps`.
    pub timescale: String,
    pub items: Vec<Item>,
    /// Width of each signal.
    pub widths: Vec<u32>,
    /// In time order.
    pub changes: Vec<Change>,
    /// Last time of the trace (at least the last change).
    pub end_time: u64,
}

impl Trace {
    /// Adds a signal of `width` bits; returns its id.
    pub fn add_signal(&mut self, width: u32) -> usize {
        self.widths.push(width);
        self.widths.len() - 1
    }

    /// Full dotted names of every variable (scopes joined with `.`, range appended without a
    /// space, as GTKWave names them), with the var.
    pub fn full_names(&self) -> Vec<(String, &Var)> {
        let mut path: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for it in &self.items {
            match it {
                Item::Scope(s) => path.push(s),
                Item::Up => {
                    path.pop();
                }
                Item::Var(v) => {
                    let mut name = path.join(".");
                    if !name.is_empty() {
                        name.push('.');
                    }
                    name.push_str(&v.name);
                    if let Some(r) = &v.range {
                        name.push_str(r);
                    }
                    out.push((name, v));
                }
            }
        }
        out
    }
}

/// A parse error at a line.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub line: usize,
    pub msg: String,
}

fn perr(line: usize, msg: impl Into<String>) -> ParseError {
    ParseError {
        line,
        msg: msg.into(),
    }
}

/// Reads a VCD as Verilator writes it.
pub(crate) fn parse_vcd(input: impl BufRead) -> Result<Trace, ParseError> {
    let mut t = Trace::default();
    let mut codes: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut header = true;
    let mut tokens: Vec<String> = Vec::new();
    let mut time = 0u64;
    for (i, line) in input.lines().enumerate() {
        let ln = i + 1;
        let line = line.map_err(|e| perr(ln, e.to_string()))?;
        if header {
            tokens.extend(line.split_whitespace().map(str::to_string));
            // Process complete `$keyword ... $end` groups.
            while let Some(end) = tokens.iter().position(|s| s == "$end") {
                let group: Vec<String> = tokens.drain(..=end).collect();
                let kw = group[0].as_str();
                match kw {
                    "$scope" => {
                        let name = group
                            .get(2)
                            .ok_or_else(|| perr(ln, "$scope without name"))?;
                        t.items.push(Item::Scope(name.clone()));
                    }
                    "$upscope" => t.items.push(Item::Up),
                    "$timescale" => t.timescale = group[1..group.len() - 1].concat(),
                    "$var" => {
                        if group.len() < 6 {
                            return Err(perr(ln, "short $var"));
                        }
                        let width: u32 = group[2]
                            .parse()
                            .map_err(|_| perr(ln, format!("bad width {}", group[2])))?;
                        let code = group[3].clone();
                        let name = group[4].clone();
                        let range = (group.len() > 6).then(|| group[5..group.len() - 1].concat());
                        let id = match codes.get(&code) {
                            Some(&id) => id,
                            None => {
                                let id = t.add_signal(width);
                                codes.insert(code, id);
                                id
                            }
                        };
                        t.items.push(Item::Var(Var {
                            name,
                            range,
                            width,
                            id,
                        }));
                    }
                    "$enddefinitions" => {
                        header = false;
                        break;
                    }
                    _ => {} // $version, $date, $comment
                }
            }
            continue;
        }
        let mut toks = line.split_whitespace();
        while let Some(tok) = toks.next() {
            let b = tok.as_bytes();
            match b[0] {
                b'#' => {
                    time = tok[1..]
                        .parse()
                        .map_err(|_| perr(ln, format!("bad time {tok}")))?;
                    t.end_time = t.end_time.max(time);
                }
                b'$' => {} // $dumpvars, $end, ...
                b'b' | b'B' => {
                    let code = toks.next().ok_or_else(|| perr(ln, "vector without id"))?;
                    let &id = codes
                        .get(code)
                        .ok_or_else(|| perr(ln, format!("unknown id {code}")))?;
                    let value = extend(&b[1..], t.widths[id]);
                    t.changes.push(Change { time, id, value });
                }
                b'0' | b'1' | b'x' | b'X' | b'z' | b'Z' => {
                    let code = &tok[1..];
                    let &id = codes
                        .get(code)
                        .ok_or_else(|| perr(ln, format!("unknown id {code}")))?;
                    let value = extend(&[b[0].to_ascii_lowercase()], t.widths[id]);
                    t.changes.push(Change { time, id, value });
                }
                b'r' | b'R' | b's' | b'S' => {
                    return Err(perr(ln, "real and string values are not supported"));
                }
                _ => return Err(perr(ln, format!("unexpected `{tok}`"))),
            }
        }
    }
    if header {
        return Err(perr(0, "no $enddefinitions"));
    }
    Ok(t)
}

/// `value` left-extended (VCD rules: 0 and 1 extend with 0, x and z with themselves) or cut to
/// `width` characters, lower-case.
fn extend(value: &[u8], width: u32) -> Vec<u8> {
    let w = width as usize;
    let v: Vec<u8> = value.iter().map(u8::to_ascii_lowercase).collect();
    if v.len() >= w {
        return v[v.len() - w..].to_vec();
    }
    let fill = match v.first() {
        Some(b'x') => b'x',
        Some(b'z') => b'z',
        _ => b'0',
    };
    let mut out = vec![fill; w - v.len()];
    out.extend_from_slice(&v);
    out
}

/// VCD identifier code of signal `id` (printable ASCII `!`..`~`, shortest first).
fn code(mut id: usize) -> String {
    let mut s = String::new();
    loop {
        s.push((b'!' + (id % 94) as u8) as char);
        id /= 94;
        if id == 0 {
            return s;
        }
        id -= 1;
    }
}

/// Writes `t` as VCD. No `$date`: the same trace gives the same bytes.
pub(crate) fn write_vcd(t: &Trace, out: &mut impl Write) -> io::Result<()> {
    let mut h = String::new();
    h.push_str("$version avic-cosim (RTL from Verilator, software lanes from the harness) $end\n");
    let _ = writeln!(h, "$timescale {} $end", t.timescale);
    let mut depth = 0;
    for it in &t.items {
        match it {
            Item::Scope(s) => {
                let _ = writeln!(h, "{:w$}$scope module {s} $end", "", w = depth);
                depth += 1;
            }
            Item::Up => {
                depth = depth.saturating_sub(1);
                let _ = writeln!(h, "{:w$}$upscope $end", "", w = depth);
            }
            Item::Var(v) => {
                let _ = write!(
                    h,
                    "{:w$}$var wire {} {} {}",
                    "",
                    v.width,
                    code(v.id),
                    v.name,
                    w = depth
                );
                if let Some(r) = &v.range {
                    let _ = write!(h, " {r}");
                }
                h.push_str(" $end\n");
            }
        }
    }
    h.push_str("$enddefinitions $end\n");
    out.write_all(h.as_bytes())?;
    let mut cur: Option<u64> = None;
    let mut line = Vec::with_capacity(256);
    for c in &t.changes {
        if cur != Some(c.time) {
            writeln!(out, "#{}", c.time)?;
            cur = Some(c.time);
        }
        line.clear();
        if t.widths[c.id] == 1 {
            line.extend_from_slice(&c.value);
        } else {
            line.push(b'b');
            line.extend_from_slice(&c.value);
            line.push(b' ');
        }
        line.extend_from_slice(code(c.id).as_bytes());
        line.push(b'\n');
        out.write_all(&line)?;
    }
    if cur.is_none_or(|c| c < t.end_time) {
        writeln!(out, "#{}", t.end_time)?;
    }
    Ok(())
}

/// Writes `t` as FST (`fst-writer`), with an empty date.
pub(crate) fn write_fst(
    t: &Trace,
    out: impl Write + io::Seek,
) -> Result<(), fst_writer::FstWriteError> {
    use fst_writer::{
        FstFileType, FstHeaderWriter, FstInfo, FstScopeType, FstSignalId, FstSignalType,
        FstVarDirection, FstVarType,
    };
    let exp = timescale_exponent(&t.timescale);
    let info = FstInfo {
        start_time: 0,
        timescale_exponent: exp,
        version: "avic-cosim".into(),
        date: String::new(),
        file_type: FstFileType::Verilog,
    };
    let mut w = FstHeaderWriter::new(out, &info)?;
    let mut ids: Vec<Option<FstSignalId>> = vec![None; t.widths.len()];
    for it in &t.items {
        match it {
            Item::Scope(s) => w.scope(s, "", FstScopeType::Module)?,
            Item::Up => w.up_scope()?,
            Item::Var(v) => {
                let name = match &v.range {
                    Some(r) => format!("{} {r}", v.name),
                    None => v.name.clone(),
                };
                let id = w.var(
                    name,
                    FstSignalType::bit_vec(v.width),
                    FstVarType::Wire,
                    FstVarDirection::Implicit,
                    ids[v.id],
                )?;
                ids[v.id] = Some(id);
            }
        }
    }
    let mut b = w.finish()?;
    let mut cur: Option<u64> = None;
    for c in &t.changes {
        let Some(id) = ids[c.id] else { continue };
        if cur != Some(c.time) {
            b.time_change(c.time)?;
            cur = Some(c.time);
        }
        b.signal_change(id, &c.value)?;
    }
    if cur.is_none_or(|c| c < t.end_time) {
        b.time_change(t.end_time)?;
    }
    b.finish()?;
    Ok(())
}

/// `1ps` -> -12, `10ns` -> -8, ...
fn timescale_exponent(ts: &str) -> i8 {
    let digits: String = ts.chars().take_while(char::is_ascii_digit).collect();
    let unit = &ts[digits.len()..];
    let mag = match digits.as_str() {
        "10" => 1,
        "100" => 2,
        _ => 0,
    };
    let base = match unit.trim() {
        "s" => 0,
        "ms" => -3,
        "us" => -6,
        "ns" => -9,
        "ps" => -12,
        "fs" => -15,
        _ => -12,
    };
    base + mag
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "$version x $end\n$timescale 1ps $end\n $scope module top $end\n  \
        $var wire  1 ! clk $end\n  $var wire  4 \" st [3:0] $end\n  $scope module sub $end\n   \
        $var wire  4 \" st_alias [3:0] $end\n  $upscope $end\n $upscope $end\n\
        $enddefinitions $end\n\n\n#4\n0!\nb101 \"\n#5\n1!\n#6\n0!\nbx \"\n";

    #[test]
    fn parses_verilator_style_vcd_and_writes_it_back() {
        let t = parse_vcd(SMALL.as_bytes()).unwrap();
        assert_eq!(t.timescale, "1ps");
        assert_eq!(t.widths, vec![1, 4]);
        let names: Vec<String> = t.full_names().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["top.clk", "top.st[3:0]", "top.sub.st_alias[3:0]"]);
        assert_eq!(t.changes.len(), 5);
        assert_eq!(t.changes[1].value, b"0101");
        assert_eq!(t.changes[4].value, b"xxxx");
        assert_eq!(t.end_time, 6);
        let mut out = Vec::new();
        write_vcd(&t, &mut out).unwrap();
        let back = parse_vcd(&out[..]).unwrap();
        assert_eq!(back.items, t.items);
        assert_eq!(back.changes, t.changes);
    }

    #[test]
    fn codes_are_unique() {
        let mut all: Vec<String> = (0..20_000).map(code).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20_000);
    }
}
