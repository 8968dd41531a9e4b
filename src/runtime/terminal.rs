//! The real terminal: raw mode, alternate screen, mouse capture — and putting all of it
//! back on quit, on error, on panic, and around a suspend.

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is in our mode now, so restoring twice is harmless.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Enters raw mode and the alternate screen with mouse capture.
fn enter() -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        cursor::Hide
    )?;
    Ok(())
}

/// Leaves everything `enter` set up. Safe to call at any time, any number of times.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(
            io::stdout(),
            DisableMouseCapture,
            LeaveAlternateScreen,
            cursor::Show
        );
        let _ = disable_raw_mode();
    }
}

/// Restores the terminal before the default panic message, so the message is readable
/// and the shell is usable afterwards.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        default(info);
    }));
}

/// Creates the ratatui terminal on stdout.
pub fn open() -> io::Result<Term> {
    enter()?;
    fresh()
}

/// A cleared screen and a terminal object with empty buffers, so the next draw paints
/// every cell. (ratatui's own `clear` asks the terminal for the cursor position, which
/// not every terminal answers; a full-screen `Terminal::new` asks nothing.)
fn fresh() -> io::Result<Term> {
    execute!(io::stdout(), Clear(ClearType::All))?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Takes the terminal back after the process was stopped from outside, and repaints.
pub fn resume(t: &mut Term) -> io::Result<()> {
    enter()?;
    *t = fresh()?;
    Ok(())
}

/// Restores the terminal and stops the process (job control); on resume, takes the
/// terminal back. Used for Ctrl-Z and SIGTSTP.
pub fn suspend(t: &mut Term) -> io::Result<()> {
    restore();
    // SIGSTOP cannot be caught: the process stops here until SIGCONT.
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::STOP);
    resume(t)
}

/// Restores the terminal when dropped: covers early returns and errors.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}
