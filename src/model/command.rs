//! A command for a person to run, as a value (SPEC §11 "Commands are values"): the
//! program, its arguments, the environment it needs and the user it must run as. It is
//! rendered for a shell in one place, [`Command::text`], with every word quoted, so no
//! name another process chose can become shell syntax; JSON carries the argv beside the
//! text.

use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// One command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Run it as this user (`sudo -u USER …`): the user whose supervisor it talks to, when
    /// that is not who runs sockscope. Pasting it never gives anyone more privilege than
    /// the process it acts on already has.
    pub run_as: Option<String>,
    /// Variables to set for it (`env K=V …`).
    pub env: Vec<(String, String)>,
    pub program: String,
    pub args: Vec<String>,
}

impl Command {
    /// `program args…`, run by whoever runs sockscope.
    pub fn new<I, S>(program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            run_as: None,
            env: Vec::new(),
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// `sockscope ARGS…`: one of our own commands.
    pub fn sockscope<I, S>(args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command::new("sockscope", args)
    }

    /// The same command, run as `user`.
    pub fn run_as(mut self, user: Option<String>) -> Command {
        self.run_as = user;
        self
    }

    /// The same command with `key=value` in its environment.
    pub fn with_env(mut self, key: &str, value: &str) -> Command {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Every word, as a program would be started: `sudo -u USER env K=V program args…`.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = Vec::with_capacity(self.args.len() + 6);
        match self.run_as.as_deref() {
            Some("root") => argv.push("sudo".to_owned()),
            Some(user) => argv.extend(["sudo".to_owned(), "-u".to_owned(), user.to_owned()]),
            None => {}
        }
        if !self.env.is_empty() {
            argv.push("env".to_owned());
            argv.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        }
        argv.push(self.program.clone());
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// The command for a POSIX shell: every word quoted where it needs to be, so that
    /// the shell gives the program exactly [`Command::argv`].
    pub fn text(&self) -> String {
        let env_words = if self.env.is_empty() {
            0
        } else {
            1 + self.env.len()
        };
        let skip = self.argv().len() - self.args.len() - 1 - env_words;
        let mut words: Vec<Cow<'_, str>> = Vec::new();
        for (i, w) in self.argv().into_iter().enumerate() {
            // `KEY=value` reads better with the value alone quoted; the shell passes the
            // same word.
            let assignment = i > skip && i <= skip + self.env.len() && env_words > 0;
            match w
                .split_once('=')
                .filter(|(k, _)| assignment && identifier(k))
            {
                Some((k, v)) => words.push(Cow::Owned(format!("{k}={}", quote(v.to_owned())))),
                // `=` is only shell syntax in a command's first words (assignments).
                None if i > 0 && !assignment && plain_but_equals(&w) => words.push(Cow::Owned(w)),
                None => words.push(quote(w)),
            }
        }
        words.join(" ")
    }
}

/// One word for a POSIX shell: as is when it holds nothing a shell would read, else in
/// single quotes (a `'` inside becomes `'"'"'`). NUL cannot be passed in an argument; it
/// is written as the sanitiser writes it.
fn quote(word: String) -> Cow<'static, str> {
    let word = word.replace('\0', "\\0");
    match shlex::try_quote(&word) {
        Ok(q) => Cow::Owned(q.into_owned()),
        // Only NUL makes quoting fail, and it is gone.
        Err(_) => Cow::Owned(format!("'{}'", word.replace('\'', "'\"'\"'"))),
    }
}

/// A word a shell reads as itself but for its `=` (`publish=8000`): safe as is after
/// the first word.
fn plain_but_equals(w: &str) -> bool {
    let rest = w.replace('=', "");
    w.contains('=')
        && !w.starts_with('=')
        && !rest.is_empty()
        && matches!(shlex::try_quote(&rest), Ok(Cow::Borrowed(q)) if q == rest)
}

/// A shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn identifier(k: &str) -> bool {
    let mut b = k.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// Serialised as `{ "argv": [...], "text": "...", "run_as": "alice" | null }`.
impl Serialize for Command {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Command", 3)?;
        st.serialize_field("argv", &self.argv())?;
        st.serialize_field("text", &self.text())?;
        st.serialize_field("run_as", &self.run_as)?;
        st.end()
    }
}

/// One thing to do next: a sentence around at most one command. Rendered as
/// "`{lead}` `{command}` `{tail}`", the command in backquotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub lead: String,
    pub command: Option<Command>,
    pub tail: String,
}

impl Step {
    /// A sentence with no command in it.
    pub fn say(text: impl Into<String>) -> Step {
        Step {
            lead: text.into(),
            command: None,
            tail: String::new(),
        }
    }

    /// `lead `command` tail`.
    pub fn run(lead: impl Into<String>, command: Command, tail: impl Into<String>) -> Step {
        Step {
            lead: lead.into(),
            command: Some(command),
            tail: tail.into(),
        }
    }

    /// The whole step as one line.
    pub fn text(&self) -> String {
        let Some(cmd) = &self.command else {
            return self.lead.clone();
        };
        let mut out = self.lead.clone();
        if !out.is_empty() && !out.ends_with(['(', ' ']) {
            out.push(' ');
        }
        out.push('`');
        out.push_str(&cmd.text());
        out.push('`');
        if !self.tail.is_empty() {
            if !self.tail.starts_with([',', ';', ')', ':', '.']) {
                out.push(' ');
            }
            out.push_str(&self.tail);
        }
        out
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// Serialised as `{ "text": "...", "command": {…} | null }`.
impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Step", 2)?;
        st.serialize_field("text", &self.text())?;
        st.serialize_field("command", &self.command)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_words_stay_plain_and_hostile_ones_are_quoted() {
        let c = Command::new("pm2", ["stop", "webapp"]);
        assert_eq!(c.text(), "pm2 stop webapp");
        let c = Command::new("supervisorctl", ["stop", "web;id>x"]);
        assert_eq!(c.text(), "supervisorctl stop 'web;id>x'");
        let c = Command::new("docker", ["stop", "web$(id>x)"])
            .run_as(Some("alice".into()))
            .with_env("PM2_HOME", "/home/a b/.pm2");
        assert_eq!(
            c.text(),
            "sudo -u alice env PM2_HOME='/home/a b/.pm2' docker stop 'web$(id>x)'"
        );
        assert_eq!(
            c.argv(),
            [
                "sudo",
                "-u",
                "alice",
                "env",
                "PM2_HOME=/home/a b/.pm2",
                "docker",
                "stop",
                "web$(id>x)"
            ]
        );
        let step = Step::run(
            "stop it for good:",
            Command::new("systemctl", ["stop", "x.service"]),
            "(4242 is run by systemd unit x.service)",
        );
        assert_eq!(
            step.text(),
            "stop it for good: `systemctl stop x.service` (4242 is run by systemd unit x.service)"
        );
        let doc = serde_json::to_value(&step).unwrap();
        assert_eq!(doc["command"]["argv"][1], "stop");
        assert_eq!(doc["command"]["text"], "systemctl stop x.service");
        assert_eq!(doc["command"]["run_as"], serde_json::Value::Null);
    }

    fn words() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ -~]{0,12}",
            proptest::collection::vec(
                prop_oneof![
                    Just("'".to_owned()),
                    Just("\"".to_owned()),
                    Just("\\".to_owned()),
                    Just("$(id)".to_owned()),
                    Just("`id`".to_owned()),
                    Just(";".to_owned()),
                    Just("\n".to_owned()),
                    Just(" ".to_owned()),
                    Just("*".to_owned()),
                    Just("~".to_owned()),
                    Just("#".to_owned()),
                    Just("=".to_owned()),
                    Just("-".to_owned()),
                    "[a-z]{1,3}",
                ],
                0..8
            )
            .prop_map(|v| v.concat()),
        ]
    }

    proptest! {
        /// Any name, rendered and read back by a shell-words parser, is exactly the argv
        /// meant: nothing in it becomes shell syntax.
        #[test]
        fn every_rendered_command_parses_back_to_its_argv(
            program in words(),
            args in proptest::collection::vec(words(), 0..5),
            user in proptest::option::of(words()),
            env in proptest::collection::vec(("[A-Z_]{1,8}", words()), 0..3),
        ) {
            let mut c = Command::new(&program, args).run_as(user);
            for (k, v) in &env {
                c = c.with_env(k, v);
            }
            let want: Vec<String> = c.argv().into_iter().map(|w| w.replace('\0', "\\0")).collect();
            let back = shlex::split(&c.text());
            prop_assert_eq!(back, Some(want), "{}", c.text());
            let back = shell_words::split(&c.text()).ok();
            let want: Vec<String> = c.argv().into_iter().map(|w| w.replace('\0', "\\0")).collect();
            prop_assert_eq!(back, Some(want));
        }
    }
}
