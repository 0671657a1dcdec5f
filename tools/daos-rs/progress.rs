//! A one-line progress bar on stderr, redrawn in place with `\r`; drawn only
//! when stderr is a terminal or `--progress` was given.

use std::io::Write;
use std::time::{Duration, Instant};

const WIDTH: usize = 30;
const EVERY: Duration = Duration::from_millis(100);

pub struct Progress {
    on: bool,
    label: String,
    total: Option<u64>,
    bytes: bool,
    start: Instant,
    last: Option<Instant>,
    drawn: bool,
}

/// `1.5 MiB` style sizes.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

impl Progress {
    /// A bar for `total` units (None: unknown); `bytes` shows sizes and a rate.
    pub fn new(on: bool, label: impl Into<String>, total: Option<u64>, bytes: bool) -> Progress {
        Progress { on, label: label.into(), total, bytes, start: Instant::now(), last: None, drawn: false }
    }

    fn amount(&self, n: u64) -> String {
        if self.bytes {
            human(n)
        } else {
            n.to_string()
        }
    }

    /// Redraws with `done` units (at most every 100 ms unless `force`).
    pub fn set(&mut self, done: u64, force: bool) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        if !force && self.last.is_some_and(|t| now - t < EVERY) {
            return;
        }
        self.last = Some(now);
        let mut line = format!("\r{} ", self.label);
        match self.total {
            Some(t) => {
                let frac = if t == 0 { 1.0 } else { (done as f64 / t as f64).min(1.0) };
                let fill = (frac * WIDTH as f64).round() as usize;
                line += &format!(
                    "[{}{}] {:3.0}% {}/{}",
                    "#".repeat(fill),
                    "-".repeat(WIDTH - fill),
                    frac * 100.0,
                    self.amount(done),
                    self.amount(t)
                );
            }
            None => line += &self.amount(done),
        }
        if self.bytes {
            let secs = self.start.elapsed().as_secs_f64();
            if secs > 0.0 {
                line += &format!(" {}/s", human((done as f64 / secs) as u64));
            }
        }
        line += "\x1b[K";
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        self.drawn = true;
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self, done: u64) {
        if self.on {
            self.set(done, true);
            let _ = std::io::stderr().lock().write_all(b"\n");
        }
        self.on = false;
    }

    /// Ends the line without a final draw (on an error).
    pub fn abandon(&mut self) {
        if self.on && self.drawn {
            let _ = std::io::stderr().lock().write_all(b"\n");
        }
        self.on = false;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.abandon();
    }
}
