//! Many holders in few words: a listener shared by hundreds of forked workers is named by
//! its first [`SHOWN`] holders in full, and the rest are counted by name and user, so
//! that `why`, `kill` and the MCP tools stay bounded however many processes share it.

use super::Snapshot;
use serde::Serialize;

/// Holders shown in full (and pids named in a sentence) before the rest are folded.
pub const SHOWN: usize = 16;
/// Kinds of folded holders named one by one (each process picks its own name, so there
/// may be as many kinds as holders); the rest are one count.
const KINDS: usize = 8;

/// Folded holders that share a name and a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kind {
    pub name: String,
    pub user: Option<String>,
    pub count: usize,
}

/// What was left out of a list of holders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Folded {
    /// How many holders are not shown.
    pub count: usize,
    /// Them by name and user, most first (at most 8 kinds; `others` counts the rest).
    pub by: Vec<Kind>,
    /// Holders of further kinds, and pids gone from the snapshot.
    pub others: usize,
}

impl Folded {
    /// The holders `pids` leaves out beyond the first [`SHOWN`].
    pub fn of(snap: &Snapshot, pids: &[u32]) -> Folded {
        let rest = pids.get(SHOWN..).unwrap_or_default();
        let mut by: Vec<Kind> = Vec::new();
        let mut gone = 0;
        for pid in rest {
            let Some(p) = snap.processes.get(pid) else {
                gone += 1;
                continue;
            };
            match by.iter_mut().find(|k| k.name == p.name && k.user == p.user) {
                Some(k) => k.count += 1,
                None => by.push(Kind {
                    name: p.name.clone(),
                    user: p.user.clone(),
                    count: 1,
                }),
            }
        }
        by.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        let others = gone + by.iter().skip(KINDS).map(|k| k.count).sum::<usize>();
        by.truncate(KINDS);
        Folded {
            count: rest.len(),
            by,
            others,
        }
    }

    /// "and 385 more: 385 python3 processes of user nobody"; `None` when nothing was left
    /// out.
    pub fn sentence(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let mut parts: Vec<String> = self
            .by
            .iter()
            .map(|k| {
                format!(
                    "{} {} process{} of user {}",
                    k.count,
                    k.name,
                    if k.count == 1 { "" } else { "es" },
                    k.user.as_deref().unwrap_or("?")
                )
            })
            .collect();
        if self.others > 0 {
            parts.push(format!("{} other{}", self.others, plural(self.others)));
        }
        Some(format!("and {} more: {}", self.count, parts.join(", ")))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Snapshot {
    /// `pids` for a sentence: the first [`SHOWN`] as [`Snapshot::pids_text`] does, then
    /// "… and 395 more".
    pub fn pids_folded(&self, pids: &[u32]) -> String {
        let mut out = String::new();
        self.write_pids(&mut out, &pids[..pids.len().min(SHOWN)]);
        if pids.len() > SHOWN {
            out.push_str(&format!(", … and {} more", pids.len() - SHOWN));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap_of(procs: impl IntoIterator<Item = (u32, &'static str, &'static str)>) -> Snapshot {
        let mut snap = Snapshot::empty(crate::model::Scope::All);
        for (pid, name, user) in procs {
            let mut p = crate::model::process::fixture(pid, name, 'S');
            p.user = Some(user.into());
            snap.processes.insert(pid, p);
        }
        snap
    }

    #[test]
    fn past_the_first_holders_the_rest_are_counted_by_name_and_user() {
        let pids: Vec<u32> = (1..=401).collect();
        // Pid 401 is gone from the snapshot.
        let snap = snap_of(pids[..400].iter().map(|&pid| match pid {
            400 => (pid, "sh", "root"),
            _ => (pid, "python3", "nobody"),
        }));
        let f = Folded::of(&snap, &pids);
        assert_eq!(f.count, 385);
        assert_eq!(
            f.sentence().unwrap(),
            "and 385 more: 383 python3 processes of user nobody, 1 sh process of user root, 1 other"
        );
        let text = snap.pids_folded(&pids);
        assert!(text.starts_with("1/python3,2/python3,"), "{text}");
        assert!(text.ends_with("16/python3, … and 385 more"), "{text}");
        // A few holders are named in full, with nothing folded.
        assert_eq!(Folded::of(&snap, &pids[..SHOWN]).sentence(), None);
        assert_eq!(snap.pids_folded(&pids[..2]), "1/python3,2/python3");
    }

    /// Each process picks its own name: however many kinds there are, the sentence names
    /// a few and counts the rest.
    #[test]
    fn a_holder_per_name_still_folds_to_a_few_kinds() {
        let names: Vec<&'static str> = (0..300)
            .map(|i| &*Box::leak(format!("n{i:03}").into_boxed_str()))
            .collect();
        let pids: Vec<u32> = (1..=300).collect();
        let snap = snap_of(pids.iter().map(|&pid| (pid, names[pid as usize - 1], "u")));
        let f = Folded::of(&snap, &pids);
        assert_eq!(f.by.len(), KINDS);
        assert_eq!(f.others, 300 - SHOWN - KINDS);
        let s = f.sentence().unwrap();
        assert!(s.len() < 400, "{s}");
        assert!(
            s.ends_with(&format!("{} others", 300 - SHOWN - KINDS)),
            "{s}"
        );
    }
}
