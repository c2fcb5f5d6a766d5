//! The client registry: an embedded JSON file in the data dir (no server to install).
//!
//! * Location: `<data dir>/clients.json`; the data dir defaults to `./xnonce-data` (override
//!   with `--data DIR` or the `XNONCE_DATA` environment variable).
//! * Permissions: the dir is created `0700`, the file is written `0600` (to a temporary file
//!   renamed into place, so readers never see half a file).
//! * Format: `{"version": 1, "clients": {"<name>": ["<secret>", ...]}}`; several secrets for
//!   a client are all live (rotation). Secrets are 32 bytes from the OS CSPRNG written as 64
//!   hex characters ([`Secret::generate`]).
//! * A running server sees changes at once: [`Registry`] checks the file's modification time,
//!   size and inode (one `stat`) on each lookup and re-reads it when they changed.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use xnonce_core::{Secret, SecretSource};

/// The registry file's name inside the data dir.
pub const FILE_NAME: &str = "clients.json";
/// The default data dir (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "./xnonce-data";
/// The environment variable that overrides the default data dir.
pub const DATA_ENV: &str = "XNONCE_DATA";

/// A registry operation failed.
#[derive(Debug)]
pub enum RegistryError {
    /// `client add` of a name that exists.
    Exists(String),
    /// `client delete` of a name that does not exist.
    NotFound(String),
    /// The name is not a valid client id.
    InvalidName(String),
    /// The file could not be read, parsed or written.
    Io(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Exists(n) => {
                write!(f, "client {n:?} already exists (use `client replace`)")
            }
            RegistryError::NotFound(n) => write!(f, "client {n:?} is not registered"),
            RegistryError::InvalidName(why) => write!(f, "invalid client name: {why}"),
            RegistryError::Io(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for RegistryError {}

#[derive(Serialize, Deserialize, Default)]
struct FileFormat {
    version: u32,
    clients: BTreeMap<String, Vec<String>>,
}

/// The file's identity, to notice changes cheaply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

struct Cache {
    stamp: Option<Stamp>,
    clients: BTreeMap<String, Vec<Secret>>,
}

/// The client registry of a data dir; a [`SecretSource`] for the verifier.
pub struct Registry {
    dir: PathBuf,
    cache: RwLock<Cache>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The data dir to use: the flag, else `XNONCE_DATA`, else `./xnonce-data`.
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os(DATA_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
    }
}

fn io_err(what: &str, path: &Path, e: io::Error) -> RegistryError {
    RegistryError::Io(format!("cannot {what} {}: {e}", path.display()))
}

impl Registry {
    /// Opens (does not create) the registry of a data dir; a missing file is an empty registry.
    pub fn open(dir: impl Into<PathBuf>) -> Registry {
        Registry {
            dir: dir.into(),
            cache: RwLock::new(Cache {
                stamp: None,
                clients: BTreeMap::new(),
            }),
        }
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The registry file's path.
    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    fn stamp(&self) -> Option<Stamp> {
        fs::metadata(self.file()).ok().map(|m| Stamp {
            modified: m.modified().ok(),
            len: m.len(),
            ino: m.ino(),
        })
    }

    fn read_file(&self) -> Result<FileFormat, RegistryError> {
        let path = self.file();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RegistryError::Io(format!("{} is not a valid registry: {e}", path.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(FileFormat {
                version: 1,
                ..Default::default()
            }),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    /// Re-reads the file if its modification time, size or inode changed (one `stat` per
    /// call). A file that cannot be read keeps the last good contents (and logs a warning).
    fn refresh(&self) {
        let stamp = self.stamp();
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if cache.stamp.is_some() && stamp == cache.stamp {
                return;
            }
        }
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        match self.read_file() {
            Ok(file) => {
                let mut clients = BTreeMap::new();
                for (name, secrets) in file.clients {
                    let live: Vec<Secret> = secrets
                        .into_iter()
                        .filter_map(|s| Secret::new(s).ok())
                        .collect();
                    clients.insert(name, live);
                }
                cache.clients = clients;
                cache.stamp = stamp;
            }
            Err(e) => tracing::warn!(error = %e, "client registry not reloaded"),
        }
    }

    /// The names of the registered clients, sorted.
    pub fn list(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.read_file()?.clients.into_keys().collect())
    }

    /// Registers a new client and returns its fresh secret; refuses an existing name.
    pub fn add(&self, name: &str) -> Result<Secret, RegistryError> {
        self.update(name, |file, secret| {
            if file.clients.contains_key(name) {
                return Err(RegistryError::Exists(name.to_string()));
            }
            file.clients
                .insert(name.to_string(), vec![secret.expose().to_string()]);
            Ok(())
        })
    }

    /// Gives a client a fresh secret (the old ones stop working); creates it if absent.
    pub fn replace(&self, name: &str) -> Result<Secret, RegistryError> {
        self.update(name, |file, secret| {
            file.clients
                .insert(name.to_string(), vec![secret.expose().to_string()]);
            Ok(())
        })
    }

    /// Adds a fresh secret to a client while keeping its current ones (rotation: the server
    /// accepts any of them until the old ones are dropped with [`Registry::replace`]).
    pub fn rotate(&self, name: &str) -> Result<Secret, RegistryError> {
        self.update(name, |file, secret| {
            file.clients
                .entry(name.to_string())
                .or_default()
                .push(secret.expose().to_string());
            Ok(())
        })
    }

    /// Removes a client.
    pub fn delete(&self, name: &str) -> Result<(), RegistryError> {
        self.update(name, |file, _| {
            file.clients
                .remove(name)
                .map(|_| ())
                .ok_or_else(|| RegistryError::NotFound(name.to_string()))
        })
        .map(|_| ())
    }

    fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut FileFormat, &Secret) -> Result<(), RegistryError>,
    ) -> Result<Secret, RegistryError> {
        xnonce_core::client_id::validate(name)
            .map_err(|e| RegistryError::InvalidName(e.message().to_string()))?;
        let secret = Secret::generate().map_err(|e| RegistryError::Io(e.message().to_string()))?;
        self.ensure_dir()?;
        let _lock = FileLock::acquire(&self.dir.join(".clients.lock"))?;
        let mut file = self.read_file()?;
        file.version = 1;
        change(&mut file, &secret)?;
        self.write_file(&file)?;
        Ok(secret)
    }

    fn ensure_dir(&self) -> Result<(), RegistryError> {
        if !self.dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| io_err("create", &self.dir, e))?;
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_err("set permissions of", &self.dir, e))?;
        }
        Ok(())
    }

    fn write_file(&self, file: &FileFormat) -> Result<(), RegistryError> {
        let path = self.file();
        let tmp = self
            .dir
            .join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(file)
            .map_err(|e| RegistryError::Io(format!("cannot encode the registry: {e}")))?;
        let write = || -> io::Result<()> {
            let _ = fs::remove_file(&tmp);
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("write", &path, e)
        })
    }
}

impl SecretSource for Registry {
    fn secrets(&self, client: &str) -> Vec<Secret> {
        self.refresh();
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clients
            .get(client)
            .cloned()
            .unwrap_or_default()
    }
}

/// A lock file created exclusively, so concurrent `client` commands do not lose updates.
struct FileLock(PathBuf);

impl FileLock {
    fn acquire(path: &Path) -> Result<FileLock, RegistryError> {
        let start = Instant::now();
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => return Ok(FileLock(path.to_path_buf())),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // A lock older than 10 s is left over from a crashed command.
                    let stale = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(10));
                    if stale {
                        let _ = fs::remove_file(path);
                    } else if start.elapsed() > Duration::from_secs(15) {
                        return Err(RegistryError::Io(format!(
                            "the registry is locked by {}",
                            path.display()
                        )));
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) => return Err(io_err("lock", path, e)),
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "xnonce-registry-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        d.join("data")
    }

    #[test]
    fn add_replace_rotate_delete_list() {
        let dir = tmp();
        let r = Registry::open(&dir);
        let s1 = r.add("svc").unwrap();
        assert_eq!(s1.expose().len(), 64);
        assert!(matches!(r.add("svc"), Err(RegistryError::Exists(_))));
        assert!(matches!(
            r.add("bad name"),
            Err(RegistryError::InvalidName(_))
        ));
        assert_eq!(r.secrets("svc"), vec![s1.clone()]);
        let s2 = r.rotate("svc").unwrap();
        assert_eq!(r.secrets("svc"), vec![s1.clone(), s2.clone()]);
        let s3 = r.replace("svc").unwrap();
        assert_eq!(r.secrets("svc"), vec![s3]);
        r.replace("other").unwrap();
        assert_eq!(r.list().unwrap(), vec!["other", "svc"]);
        r.delete("other").unwrap();
        assert!(matches!(r.delete("other"), Err(RegistryError::NotFound(_))));
        assert_eq!(r.list().unwrap(), vec!["svc"]);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&r.file()), 0o600);
        assert_eq!(mode(&dir), 0o700);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_second_handle_sees_new_clients() {
        let dir = tmp();
        let server = Registry::open(&dir);
        assert!(server.secrets("late").is_empty());
        let s = Registry::open(&dir).add("late").unwrap();
        assert_eq!(server.secrets("late"), vec![s]);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
