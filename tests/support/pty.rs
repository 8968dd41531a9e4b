//! The real binary in a real pseudo-terminal, read through a vt100 parser.

use super::bin;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const COLS: u16 = 160;
const ROWS: u16 = 40;

pub struct Tui {
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    pub raw: Arc<Mutex<Vec<u8>>>,
    /// While set, nothing reads the terminal: the program's writes fill it, then block.
    stalled: Arc<AtomicBool>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Tui {
    pub fn start(args: &[&str]) -> Tui {
        Tui::start_sized(args, COLS, ROWS)
    }

    /// The live view in a terminal `cols` × `rows` (80×24: what most people have).
    pub fn start_sized(args: &[&str], cols: u16, rows: u16) -> Tui {
        let mut cmd = CommandBuilder::new(bin());
        cmd.args(args);
        // A config file of its own: nothing from the machine's user config leaks in.
        cmd.env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("sockscope-test-no-config"),
        );
        Tui::start_cmd_sized(cmd, cols, rows)
    }

    pub fn start_cmd(cmd: CommandBuilder) -> Tui {
        Tui::start_cmd_sized(cmd, COLS, ROWS)
    }

    fn start_cmd_sized(mut cmd: CommandBuilder, cols: u16, rows: u16) -> Tui {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (p, r) = (parser.clone(), raw.clone());
        let stalled = Arc::new(AtomicBool::new(false));
        let stop = stalled.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                while stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let Ok(n) = reader.read(&mut buf) else {
                    break;
                };
                if n == 0 {
                    break;
                }
                p.lock().unwrap().process(&buf[..n]);
                r.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Tui {
            child,
            writer,
            parser,
            raw,
            stalled,
            master: pair.master,
        }
    }

    /// Stops reading the terminal (a terminal that hangs), or reads it again.
    pub fn stall(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
    }

    /// Waits until everything the program wrote (escape sequences included) satisfies
    /// `pred`; the reader thread may still be draining the last bytes after an exit.
    pub fn wait_raw(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let text = String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned();
            if pred(&text) {
                return text;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: {text:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen satisfies `pred`; panics with the screen at the deadline.
    pub fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_screen_for(what, Duration::from_secs(30), pred)
    }

    /// [`Tui::wait_screen`] with a deadline of its own.
    pub fn wait_screen_for(
        &self,
        what: &str,
        deadline: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let end = Instant::now() + deadline;
        // Status lines seen meanwhile, for the failure message: they come and go.
        let mut footers: Vec<String> = Vec::new();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            let footer = s.lines().last().unwrap_or_default().trim_end().to_owned();
            if !footers.contains(&footer) {
                footers.push(footer);
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; status lines seen: {footers:#?}\nscreen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Resizes the terminal, as a user dragging its window: the kernel sends SIGWINCH to
    /// the program; the parser that reads the screen takes the new size first.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.parser.lock().unwrap().set_size(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
        );
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }

    pub fn keys(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < end,
                "sockscope did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        // Only our own child, the sockscope we started.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Tui {
    /// The live view inside a test's own pid namespace.
    pub fn start_in(ns: &super::PidNs, args: &[&str]) -> Tui {
        let mut cmd = CommandBuilder::new("nsenter");
        cmd.args(["-t", &ns.init.to_string(), "-p", "-m", "--", bin()]);
        cmd.args(args);
        cmd.env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("sockscope-test-no-config"),
        );
        Tui::start_cmd(cmd)
    }
}
