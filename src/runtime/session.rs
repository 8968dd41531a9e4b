//! One live-view session as a value: the app, a terminal on any ratatui backend, and the
//! effector with its signaller and OS. The event loop feeds it inputs from the real
//! terminal, the collector thread and a clock; tests feed it a script and read each
//! frame from a `TestBackend`.

use super::effects::{Effector, Os, Outcome};
use crate::app::App;
use crate::app::msg::Msg;
use crate::app::update::update;
use crate::collect::worker::Command;
use crate::signal::Signaller;
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::time::SystemTime;

/// Everything a session consumes.
#[derive(Debug)]
pub enum Input {
    /// A key, the mouse, a resize, a snapshot, a failed snapshot.
    Msg(Msg),
    /// The clock: ghosts and the status line expire.
    Tick(SystemTime),
}

/// What the event loop must do after an input.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub quit: bool,
    /// Hand the terminal back and stop (Ctrl-Z).
    pub suspend: bool,
    /// Commands for the collector thread.
    pub worker: Vec<Command>,
}

pub struct Session<B: Backend, S: Signaller, O: Os> {
    pub app: App,
    pub terminal: Terminal<B>,
    pub effector: Effector<S, O>,
    dirty: bool,
}

impl<B: Backend, S: Signaller, O: Os> Session<B, S, O> {
    pub fn new(app: App, terminal: Terminal<B>, effector: Effector<S, O>) -> Self {
        Session {
            app,
            terminal,
            effector,
            dirty: true,
        }
    }

    /// Applies one input and every effect it leads to (replies included).
    pub fn input(&mut self, input: Input) -> Flow {
        let mut flow = Flow::default();
        let msg = match input {
            Input::Tick(now) => {
                let before = fingerprint(&self.app);
                // A tick's effects are rare (the selection moved off an expired closed
                // row: the collector may be told about tcp_info), but never dropped.
                let effects = update(&mut self.app, Msg::Tick(now));
                self.dirty |= fingerprint(&self.app) != before || !effects.is_empty();
                self.perform(effects, &mut flow);
                return flow;
            }
            Input::Msg(m) => m,
        };
        let effects = update(&mut self.app, msg);
        self.perform(effects, &mut flow);
        self.dirty = true;
        flow
    }

    /// Performs effects, and the updates their replies lead to, into `flow`.
    fn perform(&mut self, effects: Vec<crate::app::Effect>, flow: &mut Flow) {
        let mut queue: Vec<Msg> = Vec::new();
        let mut effects = effects;
        loop {
            for effect in effects {
                for outcome in self.effector.perform(effect) {
                    match outcome {
                        Outcome::Quit => flow.quit = true,
                        Outcome::Suspend => flow.suspend = true,
                        Outcome::Worker(c) => flow.worker.push(c),
                        Outcome::Reply(m) => queue.push(m),
                    }
                }
            }
            let Some(msg) = queue.pop() else {
                return;
            };
            effects = update(&mut self.app, msg);
        }
    }

    /// What the filter narrows the collector's reads to (a port or an address).
    pub fn narrowing(&self) -> Option<crate::model::Narrow> {
        self.app.modes.filter.query.narrowing()
    }

    /// The next frame must be drawn in full (after a suspend, a resize from outside).
    pub fn invalidate(&mut self) {
        self.dirty = true;
    }

    /// Lays the app out for the terminal's own size when it differs from the size the app
    /// last heard of. Resize events alone are not enough: crossterm loses a SIGWINCH that
    /// is ready in the same poll as a key (it returns the key and never reports the
    /// signal again), and a resize while the process was stopped may come as no event at
    /// all. Called before every draw, so the last size always wins.
    pub fn follow_size(&mut self) -> Result<Flow, B::Error> {
        let size = self.terminal.size()?;
        let table = &self.app.table;
        if (size.width, size.height) == (table.width, table.height) {
            return Ok(Flow::default());
        }
        Ok(self.input(Input::Msg(Msg::Resize {
            width: size.width,
            height: size.height,
        })))
    }

    /// Draws when something changed since the last frame.
    pub fn draw(&mut self) -> Result<(), B::Error> {
        if self.dirty {
            let app = &self.app;
            self.terminal.draw(|f| crate::ui::draw(f, app))?;
            self.dirty = false;
        }
        Ok(())
    }
}

/// Cheap summary of what a tick can change, to redraw only when it did.
fn fingerprint(app: &App) -> (usize, u64, bool, bool) {
    (
        app.live.ghosts.len(),
        app.live.marks_gone,
        app.modes.status.is_some(),
        app.modes.watch.is_some(),
    )
}
