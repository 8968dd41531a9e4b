//! Who made the TIME-WAIT sockets, for one-shot commands: a running sockscope (the live
//! view, `watch`, `serve`) sees every connection close and writes what it knows to a
//! small state file; `list` and `why` read it, since a one-shot command has no history
//! of its own.
//!
//! The file lives in the user's runtime directory (`$XDG_RUNTIME_DIR/sockscope`, or
//! `/run/sockscope` for root), in a directory of mode 0700, is written whole to a
//! temporary file and renamed (a reader never sees half of it), and has mode 0600. A
//! reader believes it only when the directory and the file belong to the reader's own
//! user, nobody else may write them, and the file is fresh: anyone else could plant a
//! file that names an innocent process as the maker of a TIME-WAIT storm.
//!
//! The runtime directory itself must be the user's own and writable by nobody else (root
//! with another user's `XDG_RUNTIME_DIR`, after `su`, uses `/run`): someone who may write
//! in it could swap `sockscope` for a symbolic link between a check and a write, and make
//! root write wherever it points. Both directories are opened once and checked through
//! their handles; the file is created, renamed and read relative to them, never by path.

use crate::model::lifecycle::{Lost, Maker, lingers};
use crate::model::{Addr, Snapshot};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A file older than this was left by an instance that stopped: not believed.
pub const FRESH: Duration = Duration::from_secs(30);
const FILE: &str = "makers.json";
/// 2: each socket's cookie (a maker is believed for that very socket only).
const VERSION: u32 = 2;

/// What is written.
#[derive(Serialize, Deserialize, Default)]
struct Doc {
    version: u32,
    written_ms: u64,
    lost_times: u64,
    /// Distinct makers.
    makers: Vec<Maker>,
    /// (namespace inode, local, remote, index into `makers`, cookie) of each TIME-WAIT
    /// socket. The cookie tells it from a socket that took its addresses over since
    /// (the kernel lets a new connection reuse a TIME-WAIT's): that one is not its maker's.
    tw: Vec<(u32, String, String, u32, u64)>,
}

const DIR: &str = "sockscope";

/// The directory: `$XDG_RUNTIME_DIR/sockscope`, else `/run/user/UID/sockscope`, else (root)
/// `/run/sockscope`; a runtime directory counts only when it is the user's own and
/// nobody else may write it (checked again through its handle when used).
pub fn dir() -> Option<PathBuf> {
    let uid = rustix::process::geteuid().as_raw();
    let ours = |p: &PathBuf| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o022 == 0)
            && private_path(p, uid)
    };
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && ours(p))
        .or_else(|| Some(PathBuf::from(format!("/run/user/{uid}"))).filter(ours))
        .or_else(|| (uid == 0).then(|| PathBuf::from("/run")))?;
    Some(base.join(DIR))
}

/// Every directory on the way to `p` is root's or `uid`'s, no symbolic link, and
/// writable by nobody else: nobody else can swap a part of it for a link.
fn private_path(p: &Path, uid: u32) -> bool {
    super::path_held_by(p, uid, false)
}

/// `dir`, opened (and made, with `create`) through its parent's handle: both must be
/// directories of this user that nobody else may write, `dir` no symbolic link.
fn open_dir(dir: &Path, create: bool) -> std::io::Result<OwnedFd> {
    let refused = |what: &Path| {
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory only its user may write",
                what.display()
            ),
        )
    };
    let (Some(base), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(refused(dir));
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if !private_path(base, rustix::process::geteuid().as_raw()) {
        return Err(refused(base));
    }
    let b = rustix::fs::open(base, flags | OFlags::NOFOLLOW, Mode::empty())?;
    if !trusted(&b, 0o022) {
        return Err(refused(base));
    }
    if create {
        match rustix::fs::mkdirat(&b, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let d = rustix::fs::openat(&b, name, flags | OFlags::NOFOLLOW, Mode::empty())?;
    if !trusted(&d, 0o022) {
        return Err(refused(dir));
    }
    Ok(d)
}

/// The open file or directory is this user's and nobody else has the `forbidden` bits.
fn trusted(fd: &OwnedFd, forbidden: u32) -> bool {
    let me = rustix::process::geteuid().as_raw();
    rustix::fs::fstat(fd).is_ok_and(|st| st.st_uid == me && st.st_mode & forbidden == 0)
}

fn now_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes what `snap` knows of its TIME-WAIT sockets' makers into `dir`.
pub fn write(dir: &Path, snap: &Snapshot) -> std::io::Result<()> {
    let d = open_dir(dir, true)?;
    let doc = Doc {
        version: VERSION,
        written_ms: now_ms(snap.taken_at),
        lost_times: snap.lost.times,
        makers: snap.makers.clone(),
        tw: snap
            .sockets
            .iter()
            .filter(|s| s.maker != 0 && lingers(s))
            .map(|s| {
                (
                    s.netns,
                    s.local().to_string(),
                    s.remote().to_string(),
                    s.maker - 1,
                    s.cookie,
                )
            })
            .collect(),
    };
    let tmp = format!(".{FILE}.{}", std::process::id());
    let f = rustix::fs::openat(
        &d,
        tmp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    let written = (|| {
        let mut w = std::io::BufWriter::new(std::fs::File::from(f));
        serde_json::to_writer(&mut w, &doc)?;
        w.flush()?;
        drop(w);
        rustix::fs::renameat(&d, tmp.as_str(), &d, FILE)?;
        Ok(())
    })();
    if written.is_err() {
        // A full disk, say: no temporary file is left behind.
        let _ = rustix::fs::unlinkat(&d, tmp.as_str(), rustix::fs::AtFlags::empty());
    }
    written
}

/// How often a running instance rewrites the file.
pub const EVERY: Duration = Duration::from_secs(3);

/// Writes the state file of a running instance: after a full sockdiag snapshot, at most
/// every [`EVERY`]. Failures are quiet (the file is a courtesy to one-shot commands).
#[derive(Default)]
pub struct Writer {
    last: Option<std::time::Instant>,
}

impl Writer {
    pub fn offer(&mut self, snap: &Snapshot) {
        if snap.scope != crate::model::Scope::All
            || snap.collector != "sockdiag"
            || self.last.is_some_and(|t| t.elapsed() < EVERY)
        {
            return;
        }
        self.last = Some(std::time::Instant::now());
        if let Some(d) = dir() {
            // The directory comes from the user's environment: never with raised
            // capabilities.
            let _ = crate::caps::as_user(|| write(&d, snap));
        }
    }
}

/// Why the state file was not used.
#[derive(Debug, PartialEq, Eq)]
pub enum Unused {
    /// None there: no sockscope is running (for this user).
    Missing,
    /// There, but not this user's alone, or not fresh: not believed.
    Untrusted(String),
}

/// Marks each TIME-WAIT socket of `snap` with its maker from the state file in `dir`,
/// when it is there and believed; the snapshot's `lost` takes the writer's count.
pub fn apply(dir: &Path, snap: &mut Snapshot) -> Result<(), Unused> {
    let path = dir.join(FILE);
    // The directory comes from the user's environment: opened with the user's rights.
    let file = match crate::caps::as_user(|| {
        let d = open_dir(dir, false)?;
        let f = rustix::fs::openat(
            &d,
            FILE,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(std::fs::File::from(f))
    }) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unused::Missing),
        Err(e) => return Err(Unused::Untrusted(format!("{}: {e}", path.display()))),
    };
    let me = rustix::process::geteuid().as_raw();
    let m = file
        .metadata()
        .map_err(|e| Unused::Untrusted(e.to_string()))?;
    if m.uid() != me || m.mode() & 0o077 != 0 {
        return Err(Unused::Untrusted(format!(
            "{} belongs to uid {} or others may read or write it",
            path.display(),
            m.uid()
        )));
    }
    // Left by an instance that stopped: said without reading it (it can be megabytes).
    let stale = |age_ms: u64| {
        Unused::Untrusted(format!(
            "{} is {} s old: the sockscope that wrote it is not running",
            path.display(),
            age_ms / 1000
        ))
    };
    if let Ok(written) = m.modified() {
        let age = now_ms(snap.taken_at).saturating_sub(now_ms(written));
        if age > FRESH.as_millis() as u64 {
            return Err(stale(age));
        }
    }
    let doc: Doc = serde_json::from_reader(std::io::BufReader::new(std::io::Read::take(
        file, MAX_BYTES,
    )))
    .map_err(|e| Unused::Untrusted(format!("{}: {e}", path.display())))?;
    let age = now_ms(snap.taken_at).saturating_sub(doc.written_ms);
    if doc.version != VERSION || age > FRESH.as_millis() as u64 {
        return Err(stale(age));
    }
    let by: HashMap<(u32, Addr, Addr), (u32, u64)> = doc
        .tw
        .iter()
        .filter(|(_, _, _, i, cookie)| (*i as usize) < doc.makers.len() && *cookie != 0)
        .filter_map(|(ns, l, r, i, cookie)| {
            Some(((*ns, l.parse().ok()?, r.parse().ok()?), (i + 1, *cookie)))
        })
        .collect();
    for s in snap.sockets.iter_mut().filter(|s| lingers(s)) {
        if let Some(&(i, cookie)) = by.get(&(s.netns, s.local(), s.remote()))
            && cookie == s.cookie
        {
            s.maker = i;
        }
    }
    snap.makers = doc.makers;
    snap.lost = Lost {
        times: doc.lost_times,
        last_ms: 0,
    };
    Ok(())
}

/// A file read at most this far (a state file of 262,144 TIME-WAITs is about 10 MB).
const MAX_BYTES: u64 = 64 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{snapshot, time_wait};
    use crate::model::Scope;

    /// `sockscope` in a fresh private runtime directory of this test's own (mode 0700),
    /// under the build directory: /tmp is writable by all, so no runtime directory there
    /// is believed.
    fn private_dir(tag: &str) -> PathBuf {
        use std::os::unix::fs::DirBuilderExt;
        let base = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("sockscope-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&base)
            .unwrap();
        base.join(DIR)
    }

    fn remove(dir: &Path) {
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    fn tw_snap() -> Snapshot {
        let tw = time_wait("127.0.0.1:5000", "127.0.0.1:40000", 99);
        let mut s = snapshot(0, Scope::All, vec![tw], &[]);
        s.taken_at = SystemTime::now();
        s
    }

    #[test]
    fn written_by_one_instance_read_by_a_one_shot_command() {
        let dir = private_dir("state");
        let mut live = tw_snap();
        live.makers = vec![Maker::Owner {
            pid: 42,
            name: "php-fpm".into(),
        }];
        live.sockets[0].maker = 1;
        write(&dir, &live).unwrap();
        let mode = std::fs::metadata(dir.join(FILE)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut once = tw_snap();
        apply(&dir, &mut once).unwrap();
        assert_eq!(
            once.maker_of(&once.sockets[0]).map(Maker::text).as_deref(),
            Some("42/php-fpm")
        );
        // Another socket took the TIME-WAIT's addresses over since (another cookie):
        // not 42's (review finding: a user's TIME-WAIT was said made by it).
        let mut taken = tw_snap();
        taken.sockets[0].cookie = 100;
        apply(&dir, &mut taken).unwrap();
        assert_eq!(taken.maker_of(&taken.sockets[0]), None);
        // Others may write the file: not believed.
        std::fs::set_permissions(
            dir.join(FILE),
            std::os::unix::fs::PermissionsExt::from_mode(0o666),
        )
        .unwrap();
        assert!(matches!(
            apply(&dir, &mut tw_snap()),
            Err(Unused::Untrusted(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(apply(&dir, &mut tw_snap()), Err(Unused::Missing));
        remove(&dir);
    }

    #[test]
    fn a_stale_file_is_not_believed() {
        let dir = private_dir("stale");
        let mut old = tw_snap();
        old.taken_at = SystemTime::now() - Duration::from_secs(120);
        write(&dir, &old).unwrap();
        let r = apply(&dir, &mut tw_snap());
        assert!(
            matches!(&r, Err(Unused::Untrusted(w)) if w.contains("not running")),
            "{r:?}"
        );
        remove(&dir);
    }

    /// A file not written for longer than FRESH is stale by its time stamp alone: it is
    /// not read (a stopped instance can leave megabytes), even when what it says is new.
    #[test]
    fn a_file_not_written_lately_is_not_read() {
        let dir = private_dir("mtime");
        write(&dir, &tw_snap()).unwrap();
        let mut fresh = tw_snap();
        assert!(apply(&dir, &mut fresh).is_ok());
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join(FILE))
            .unwrap();
        f.set_modified(SystemTime::now() - FRESH - Duration::from_secs(5))
            .unwrap();
        let r = apply(&dir, &mut tw_snap());
        assert!(
            matches!(&r, Err(Unused::Untrusted(w)) if w.contains("not running")),
            "{r:?}"
        );
        remove(&dir);
    }

    /// A runtime directory someone else may write in is not used: there the `sockscope`
    /// directory could be swapped for a link between a check and a write. Nothing is
    /// written, and a file found there is not believed.
    #[test]
    fn a_runtime_directory_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = private_dir("open");
        let base = dir.parent().unwrap().to_owned();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = write(&dir, &tw_snap()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
        assert!(!dir.exists());
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).unwrap();
        write(&dir, &tw_snap()).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            apply(&dir, &mut tw_snap()),
            Err(Unused::Untrusted(_))
        ));
        remove(&dir);
    }

    /// `sockscope` as a symbolic link to another directory: refused by the writer (the
    /// target stays untouched) and by the reader.
    #[test]
    fn a_linked_state_directory_is_refused() {
        use std::os::unix::fs::DirBuilderExt;
        let dir = private_dir("link");
        let target = dir.parent().unwrap().join("elsewhere");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&target)
            .unwrap();
        std::os::unix::fs::symlink(&target, &dir).unwrap();
        assert!(write(&dir, &tw_snap()).is_err());
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
        std::fs::write(target.join(FILE), b"{}").unwrap();
        assert!(matches!(
            apply(&dir, &mut tw_snap()),
            Err(Unused::Untrusted(_))
        ));
        remove(&dir);
    }

    /// A runtime directory reached through a link someone else could have made (or
    /// through a directory others may write) is not used: the link could point anywhere.
    #[test]
    fn a_runtime_directory_behind_a_link_is_refused() {
        let dir = private_dir("behind");
        let base = dir.parent().unwrap();
        let link = base.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(base, &link).unwrap();
        let via = link.join(DIR);
        assert!(write(&via, &tw_snap()).is_err());
        assert!(!dir.exists(), "nothing written through the link");
        std::fs::remove_file(&link).unwrap();
        assert!(!private_path(Path::new("/tmp"), 0));
        assert!(!private_path(Path::new("relative"), 0));
        remove(&dir);
    }
}
