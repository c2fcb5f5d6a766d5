//! Who owns what the server creates in its data dir (and beside its registry key).
//!
//! A server usually runs as a user of its own (the systemd unit's `xnonce`), and its data dir
//! belongs to that user. An operator who runs a command on it as root (`sudo xnonce-server
//! client add …` instead of `sudo -u xnonce …`, or `serve` once to try something) would leave
//! root's files there: a `clients.json` the server can no longer read (it keeps its previous
//! copy, and fails at its next start), a lock file or replay journal it cannot open, a socket
//! folder it cannot create its socket in, a registry key it cannot read. So, running as root,
//! every file and folder created there is given the owner and group of the folder it is
//! created in, when that folder belongs to another user or group — as `sed -i` keeps a
//! replaced file's owner. As any other user nothing changes (only root may give a file away).

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The owner and group to give what is created in `folder`: `None` unless this process runs
/// as root and `folder` belongs to another user or group.
fn owner_of(folder: &Path) -> Option<(u32, u32)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let dir = std::fs::metadata(folder).ok()?;
    (dir.uid() != 0 || dir.gid() != 0).then_some((dir.uid(), dir.gid()))
}

/// Best effort: a file system that refuses (NFS with `root_squash`, a user namespace that
/// does not map the owner) leaves root's file as it was, with a warning.
fn warn_if_refused(result: io::Result<()>, path: &Path, (uid, gid): (u32, u32)) {
    if let Err(e) = result {
        tracing::warn!(
            path = %path.display(),
            "running as root, could not give this file to {uid}:{gid}, the owner of its \
             folder: {e}. Run the command as that user (sudo -u …) if its server cannot read it"
        );
    }
}

/// Gives `created`, a file just created at `path` and still open, the owner and group of
/// its folder when this process runs as root (see the module's doc).
pub(crate) fn give_to_folder_owner(created: &File, path: &Path) {
    if let Some(owner) = path.parent().and_then(owner_of) {
        let result = std::os::unix::fs::fchown(created, Some(owner.0), Some(owner.1));
        warn_if_refused(result, path, owner);
    }
}

/// Gives the entry at `path` (a symbolic link itself, not what it names) the owner and group
/// of its folder when this process runs as root: for a folder or a socket, which have no
/// open file to give.
pub(crate) fn give_path_to_folder_owner(path: &Path) {
    if let Some(owner) = path.parent().and_then(owner_of) {
        let result = std::os::unix::fs::lchown(path, Some(owner.0), Some(owner.1));
        warn_if_refused(result, path, owner);
    }
}
