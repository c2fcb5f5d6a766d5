//! The client registry: an embedded JSON file in the data dir (no server to install), its
//! secrets sealed with XChaCha20-Poly1305 under a key file kept outside the data dir.
//!
//! * Location: `<data dir>/clients.json`; the data dir defaults to `./xnonce-data` (override
//!   with `--data DIR` or the `XNONCE_DATA` environment variable). The key file: see [`key`].
//! * Permissions: the dir is created `0700` (an existing one open to group or others is set
//!   to `0700` by every write and by the server's start when it is ours, see [`secure_dir`];
//!   a data dir that is not a directory is refused, its mode untouched),
//!   the file is written `0600` (to a temporary file renamed into place, so readers never see
//!   half a file; the file, then the directory, synced, so the change survives a power
//!   loss), under an exclusive `flock` on `.clients.lock` so concurrent commands do
//!   not lose updates (see [`lock`]). The temporary file is `.clients.json.<pid>.tmp`; one
//!   left by a write that was killed before its rename is removed by the next write, which
//!   holds the lock.
//! * Format (version 2): client names and bookkeeping in clear, each secret sealed on its own:
//!
//!   ```json
//!   { "version": 2, "cipher": "xchacha20poly1305", "key_id": "<16 hex>",
//!     "registry_id": "<32 hex>",
//!     "clients": { "svc": [ { "slot": 1, "added": 1700000000,
//!                             "nonce": "<48 hex>", "sealed": "<hex>" } ] } }
//!   ```
//!
//!   `nonce` is 24 random bytes, fresh for every sealing; the associated data is
//!   `xnonce-registry-v2 \0 registry_id \0 client \0 slot`, so a sealed secret moved to
//!   another client, another slot or another registry file no longer opens. `key_id`
//!   identifies the key (wrong key and tampered file get different errors). `added` is the
//!   Unix time the secret was made (0: migrated from version 1, unknown).
//! * Version 1 (`{"version": 1, "clients": {"<name>": ["<64 hex>", ...]}}`, plaintext, what
//!   earlier releases wrote) is still read, and is rewritten as version 2 by a starting
//!   server or the next write (`client add`, `replace`, `rotate`, `retire` or `delete`).
//! * The registry records its key (`key_id`) from the start: a starting server writes an
//!   empty sealed registry when there is none ([`Registry::check`]), so a `client` command
//!   with another key file is refused rather than sealing a registry the server cannot read.
//! * Secrets are 32 bytes from the OS CSPRNG written as 64 hex characters
//!   ([`Secret::generate`]); several secrets of a client are all live (rotation), newest last.
//! * A running server keeps the decrypted secrets in memory ([`Secret`] values, zeroized on
//!   drop). Every write (`add`, `replace`, `rotate`, `retire`, `delete`) from another process
//!   asks the running servers of the data dir to re-read the file, over a Unix socket each
//!   listens on, and returns once they have ([`reload`]): when `client delete` returns, those
//!   servers refuse the client. Besides, a server checks the file's identity (mtime, ctime,
//!   size, inode: one `stat`) at most once per [`CHECK_INTERVAL`], re-reading it when it
//!   changed — how a change reaches a server that did not answer, or that runs on another
//!   host of a shared data dir — and at once when a request matches no secret in memory
//!   (unknown client, or a signature none of its secrets made; [`SecretSource::refresh`]), so
//!   a client just added or replaced from another host is accepted from its first request.
//!   Writes made through any [`Registry`] of the same process are seen on the next lookup.

pub mod import;
pub mod key;
pub mod lock;
pub mod reload;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use xnonce_core::{Secret, SecretSource};
use zeroize::Zeroizing;

pub use key::RegistryKey;

/// The registry file's name inside the data dir.
pub const FILE_NAME: &str = "clients.json";
/// The default data dir (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "./xnonce-data";
/// The environment variable that overrides the default data dir.
pub const DATA_ENV: &str = "XNONCE_DATA";
/// How often a running server checks whether the registry file changed.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// The most live secrets a client may have (each is tried when verifying).
pub const MAX_LIVE_SECRETS: usize = 16;
/// How long a starting server waits for another write's lock to record its key in a
/// registry that records none yet ([`Registry::check`]); it starts without doing so after.
pub const START_LOCK_WAIT: Duration = Duration::from_secs(10);
/// The cipher named in version-2 files.
pub const CIPHER: &str = "xchacha20poly1305";

/// Bumped by every write in this process, so every [`Registry`] of the process sees it on
/// its next lookup without waiting for [`CHECK_INTERVAL`].
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// A registry operation failed. Messages name files and clients, never secrets.
#[derive(Debug)]
pub enum RegistryError {
    /// `client add` of a name that exists.
    Exists(String),
    /// A command on a name that does not exist.
    NotFound(String),
    /// The name is not a valid client id.
    InvalidName(String),
    /// The file could not be read, parsed or written.
    Io(String),
    /// The key file is missing, unsafe, misplaced, malformed, or not the registry's key.
    Key(String),
    /// A sealed secret does not authenticate under the right key: the file was modified.
    Tampered(String),
    /// `client retire` of a client with a single secret, or `rotate` past
    /// [`MAX_LIVE_SECRETS`].
    Refused(String),
    /// The write was made, but a running server of the data dir answered that it could not
    /// re-read the registry ([`reload`]): it keeps serving its previous copy. The message
    /// names the server's socket, its reason and what to do.
    NotReloaded(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Exists(n) => {
                write!(f, "client {n:?} already exists (use `client replace`)")
            }
            RegistryError::NotFound(n) => write!(f, "client {n:?} is not registered"),
            RegistryError::InvalidName(why) => write!(f, "invalid client name: {why}"),
            RegistryError::Io(why)
            | RegistryError::Key(why)
            | RegistryError::Tampered(why)
            | RegistryError::Refused(why)
            | RegistryError::NotReloaded(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for RegistryError {}

/// Which write [`Registry::update`] makes: what a failed reload message says.
#[derive(Clone, Copy)]
enum Op {
    Add,
    Import,
    Replace,
    Rotate,
    Retire,
    Delete,
}

impl Op {
    /// What the write did, what a server that could not re-read it still does, and the way
    /// out once it reads the registry again.
    fn not_reloaded(self, name: &str) -> String {
        let again = "once the registry is read there again (fix what the server reports, or \
                     restart it), run";
        match self {
            Op::Add => format!(
                "Client {name:?} was added but is unknown there, and its new secret was not \
                 printed: {again} `xnonce-server client replace {name}` for a secret"
            ),
            Op::Import => format!(
                "The imported clients ({name}) were added but are unknown there until the \
                 registry is read there again (fix what the server reports, or restart it); \
                 their secrets are the ones imported"
            ),
            Op::Replace => format!(
                "Client {name:?} got a new secret, but its old ones are still accepted there, \
                 and the new one was not printed: {again} `xnonce-server client replace \
                 {name}` again"
            ),
            Op::Rotate => format!(
                "Client {name:?} got a new secret, which was not printed: {again} \
                 `xnonce-server client rotate {name}` again"
            ),
            Op::Retire => format!(
                "The old secrets of client {name:?} were retired, but are still accepted \
                 there until the registry is read there again"
            ),
            Op::Delete => format!(
                "Client {name:?} was deleted, but is still accepted there until the registry \
                 is read there again"
            ),
        }
    }
}

/// When a secret was made and where it sits: what `client retire` reports (never the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretInfo {
    /// The secret's slot number within its client (grows with each new secret).
    pub slot: u32,
    /// Unix time (s) it was made; 0 when unknown (migrated from a version-1 file).
    pub added: u64,
}

impl std::fmt::Display for SecretInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.added == 0 {
            write!(
                f,
                "slot {} (added before encryption, time unknown)",
                self.slot
            )
        } else {
            write!(f, "slot {} (added {})", self.slot, utc(self.added))
        }
    }
}

/// What `client retire` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// The dropped secrets, oldest first.
    pub retired: Vec<SecretInfo>,
    /// The secret that stays live (the newest).
    pub kept: SecretInfo,
}

/// What [`Registry::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Registered clients.
    pub clients: usize,
    /// False while the file is still the plaintext version 1 (or absent).
    pub encrypted: bool,
    /// The key file (loaded, or absent and not needed yet).
    pub key_file: PathBuf,
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time.
pub(crate) fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct VersionProbe {
    version: u32,
}

/// Version 1: plaintext secrets.
#[derive(Deserialize)]
struct PlainFile {
    clients: BTreeMap<String, Vec<String>>,
}

/// Version 2: sealed secrets.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedFile {
    version: u32,
    cipher: String,
    key_id: String,
    registry_id: String,
    clients: BTreeMap<String, Vec<SealedEntry>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedEntry {
    slot: u32,
    added: u64,
    nonce: String,
    sealed: String,
}

/// A registry file's bytes and mode (permission bits), as read.
type FileBytes = (Zeroizing<Vec<u8>>, u32);

enum OnDisk {
    Missing,
    /// With the file's mode (permission bits).
    Plain(PlainFile, u32),
    Sealed(SealedFile),
}

/// A decrypted secret with its bookkeeping.
struct Entry {
    info: SecretInfo,
    secret: Secret,
}

/// The decrypted registry.
struct Model {
    registry_id: String,
    encrypted: bool,
    clients: BTreeMap<String, Vec<Entry>>,
}

fn aad(registry_id: &str, client: &str, slot: u32) -> Vec<u8> {
    format!("xnonce-registry-v2\0{registry_id}\0{client}\0{slot}").into_bytes()
}

fn random_hex(n: usize) -> Result<String, RegistryError> {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b)
        .map_err(|_| RegistryError::Io("the OS random generator failed".into()))?;
    Ok(xnonce_core::hex::encode(&b))
}

impl Model {
    fn empty() -> Result<Model, RegistryError> {
        Ok(Model {
            registry_id: random_hex(16)?,
            encrypted: false,
            clients: BTreeMap::new(),
        })
    }

    fn next_slot(entries: &[Entry]) -> u32 {
        entries.iter().map(|e| e.info.slot).max().unwrap_or(0) + 1
    }

    fn seal(&self, key: &RegistryKey) -> Result<SealedFile, RegistryError> {
        let mut clients = BTreeMap::new();
        for (name, entries) in &self.clients {
            let mut sealed = Vec::with_capacity(entries.len());
            for e in entries {
                let (nonce, ct) = key.seal(
                    &aad(&self.registry_id, name, e.info.slot),
                    e.secret.expose().as_bytes(),
                )?;
                sealed.push(SealedEntry {
                    slot: e.info.slot,
                    added: e.info.added,
                    nonce: xnonce_core::hex::encode(&nonce),
                    sealed: xnonce_core::hex::encode(&ct),
                });
            }
            clients.insert(name.clone(), sealed);
        }
        Ok(SealedFile {
            version: 2,
            cipher: CIPHER.into(),
            key_id: key.id().into(),
            registry_id: self.registry_id.clone(),
            clients,
        })
    }
}

/// The file's identity, to notice changes cheaply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    modified: Option<SystemTime>,
    ctime: (i64, i64),
    len: u64,
    ino: u64,
}

/// The in-memory copy the server answers lookups from.
#[derive(Default)]
struct Snapshot {
    /// The stamp of the file last read (or last found unreadable).
    stamp: Option<Stamp>,
    loaded: bool,
    clients: HashMap<String, Vec<Secret>>,
}

/// The client registry of a data dir; a [`SecretSource`] for the verifier.
///
/// What `xnonce-server client …` does, as a library:
///
/// ```
/// use xnonce_core::SecretSource;
/// use xnonce_server::Registry;
/// let base = std::env::temp_dir().join(format!("xnonce-doc-registry-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&base);
/// let key_file = base.join("keys").join("registry.key"); // outside the data dir
/// let registry = Registry::open_with_key_file(base.join("data"), Some(key_file.clone()));
/// let first = registry.add("svc")?; // a fresh secret to hand to the client (key file made now)
/// assert_eq!(registry.list()?, ["svc"]);
/// let second = registry.rotate("svc")?; // both live until `retire`
/// assert_eq!(registry.secrets("svc"), [first, second.clone()]);
/// assert_eq!(registry.retire("svc")?.retired.len(), 1);
/// assert_eq!(registry.describe("svc")?.len(), 1);
/// let third = registry.replace("svc")?; // the old secret stops at once
/// assert_eq!(registry.secrets("svc"), [third]);
/// assert!(registry.check(false)?.encrypted);
/// assert_eq!((registry.file(), registry.key_file()?), (base.join("data").join("clients.json"), key_file.as_path()));
/// registry.delete("svc")?;
/// assert!(registry.list()?.is_empty() && registry.dir().ends_with("data"));
/// # std::fs::remove_dir_all(&base).unwrap();
/// # Ok::<(), xnonce_server::registry::RegistryError>(())
/// ```
pub struct Registry {
    dir: PathBuf,
    key_path: Result<PathBuf, String>,
    key: Mutex<Option<Arc<RegistryKey>>>,
    snapshot: RwLock<Snapshot>,
    /// Serialises reloads; lookups that find a reload due wait for it.
    reloading: Mutex<()>,
    /// Milliseconds since `epoch` (+1) of the last check; 0 = never.
    checked: AtomicU64,
    /// The [`GENERATION`] seen at the last check.
    generation: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("dir", &self.dir)
            .field("key_file", &self.key_path.as_ref().ok())
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

/// What [`secure_dir`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirMode {
    /// Absent, or already private (no group / other permission bits).
    Private,
    /// Ours and open to group or others: set to `0700`; its mode before.
    Tightened(u32),
    /// Open to group or others and left so (not ours, shared — sticky or world-writable —, or
    /// the change failed): why, for a warning.
    Open(u32, String),
    /// Not a directory (a file given as the data dir): left as it is.
    NotADirectory,
}

/// Makes an existing data dir private (`0700`) when it is open to group or others and is
/// ours; a shared directory (sticky bit or world-writable, such as `/tmp`) or someone
/// else's is left alone, and so is anything that is neither a directory nor a symlink to
/// one: `--data ~/.bashrc` must not make that file executable. The caller logs the outcome (see
/// [`DirMode`]).
pub fn secure_dir(dir: &Path) -> DirMode {
    // Follows a symlink: one to the real data dir is a usual setup.
    let Ok(meta) = fs::metadata(dir) else {
        return DirMode::Private;
    };
    if !meta.is_dir() {
        return DirMode::NotADirectory;
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return DirMode::Private;
    }
    if mode & 0o1002 != 0 {
        return DirMode::Open(mode, "a shared directory (sticky or world-writable)".into());
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return DirMode::Open(mode, format!("owned by uid {}, not this user", meta.uid()));
    }
    match fs::set_permissions(dir, fs::Permissions::from_mode(0o700)) {
        Ok(()) => DirMode::Tightened(mode),
        Err(e) => DirMode::Open(mode, format!("cannot change its mode: {e}")),
    }
}

/// Logs what [`secure_dir`] did to `dir` (a warning unless it was already private).
pub fn log_secure_dir(dir: &Path, outcome: &DirMode) {
    match outcome {
        DirMode::Private => {}
        DirMode::Tightened(old) => tracing::warn!(
            data_dir = %dir.display(),
            "the data dir was mode {old:04o} (open to group or others); set it to 0700"
        ),
        DirMode::Open(mode, why) => tracing::warn!(
            data_dir = %dir.display(),
            "the data dir is mode {mode:04o}: other users may list (or change) it; left as it \
             is ({why}). Use a private directory (mode 0700) as the data dir"
        ),
        DirMode::NotADirectory => tracing::warn!(
            data_dir = %dir.display(),
            "the data dir is not a directory; its mode is left as it is"
        ),
    }
}

fn io_err(what: &str, path: &Path, e: io::Error) -> RegistryError {
    RegistryError::Io(format!("cannot {what} {}: {e}", path.display()))
}

fn not_a_dir(dir: &Path) -> RegistryError {
    RegistryError::Io(format!("data dir {} is not a directory", dir.display()))
}

impl Registry {
    /// Opens (does not create) the registry of a data dir, with the key file of
    /// [`key::resolve_path`] (`XNONCE_KEY_FILE`, else the default location); a missing file
    /// is an empty registry. Nothing is read until first use.
    pub fn open(dir: impl Into<PathBuf>) -> Registry {
        Registry::open_with_key_file(dir, None)
    }

    /// Opens the registry of a data dir with an explicit key file (`None`: as [`Registry::open`]).
    pub fn open_with_key_file(dir: impl Into<PathBuf>, key_file: Option<PathBuf>) -> Registry {
        Registry {
            dir: dir.into(),
            key_path: key::resolve_path(key_file.as_deref()).map_err(|e| e.to_string()),
            key: Mutex::new(None),
            snapshot: RwLock::new(Snapshot::default()),
            reloading: Mutex::new(()),
            checked: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            epoch: Instant::now(),
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

    /// The key file's path (an error when no location can be determined).
    pub fn key_file(&self) -> Result<&Path, RegistryError> {
        self.key_path
            .as_deref()
            .map_err(|e| RegistryError::Key(e.clone()))
    }

    /// The key: the loaded one, else the key file if it exists (checked), else a new key file
    /// when `create`, else `None`.
    fn key(&self, create: bool) -> Result<Option<Arc<RegistryKey>>, RegistryError> {
        let mut slot = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = &*slot {
            return Ok(Some(k.clone()));
        }
        let path = self.key_file()?;
        key::check_outside(path, &self.dir)?;
        let key = if RegistryKey::exists(path) {
            RegistryKey::load(path, &self.dir)?
        } else if create {
            RegistryKey::load_or_create(path, &self.dir)?
        } else {
            return Ok(None);
        };
        let key = Arc::new(key);
        *slot = Some(key.clone());
        Ok(Some(key))
    }

    fn stamp(&self) -> Option<Stamp> {
        fs::metadata(self.file()).ok().map(|m| Stamp {
            modified: m.modified().ok(),
            ctime: (m.ctime(), m.ctime_nsec()),
            len: m.len(),
            ino: m.ino(),
        })
    }

    fn read_disk(&self) -> Result<OnDisk, RegistryError> {
        self.disk_of(self.read_bytes()?)
    }

    /// What [`Registry::read_bytes`] read: the file parsed, or [`OnDisk::Missing`].
    fn disk_of(&self, read: Option<FileBytes>) -> Result<OnDisk, RegistryError> {
        match read {
            None => Ok(OnDisk::Missing),
            Some((bytes, mode)) => self.parse(&bytes, mode),
        }
    }

    /// The file's bytes and mode (permission bits); `None` when there is no file.
    fn read_bytes(&self) -> Result<Option<FileBytes>, RegistryError> {
        let path = self.file();
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(not_a_dir(&self.dir)),
            Err(e) => return Err(io_err("read", &path, e)),
        };
        let meta = file.metadata().map_err(|e| io_err("read", &path, e))?;
        // Sized up front: no reallocation leaves a copy of a plaintext file behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
        io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io_err("read", &path, e))?;
        Ok(Some((bytes, meta.mode() & 0o7777)))
    }

    /// What [`Registry::read_bytes`] read, parsed.
    fn parse(&self, bytes: &[u8], mode: u32) -> Result<OnDisk, RegistryError> {
        let path = self.file();
        let invalid =
            |e: serde_json::Error| RegistryError::Io(not_a_registry(&path, "registry", &e));
        let probe: VersionProbe = serde_json::from_slice(bytes).map_err(invalid)?;
        match probe.version {
            1 => Ok(OnDisk::Plain(
                serde_json::from_slice(bytes).map_err(|e| {
                    RegistryError::Io(format!(
                        "{} (want {{\"version\": 1, \"clients\": {{\"<name>\": \
                         [\"<secret>\", …]}}}})",
                        not_a_registry(&path, "plaintext registry (version 1)", &e)
                    ))
                })?,
                mode,
            )),
            // A version-1 file relabelled by hand has secrets in clear where sealed entries
            // belong: the same care.
            2 => Ok(OnDisk::Sealed(serde_json::from_slice(bytes).map_err(
                |e| RegistryError::Io(not_a_registry(&path, "encrypted registry (version 2)", &e)),
            )?)),
            v => Err(RegistryError::Io(format!(
                "{} has version {v}, which this xnonce-server does not know (newer release?)",
                path.display()
            ))),
        }
    }

    /// Reads and decrypts the file. `create_key`: make the key file if it does not exist and
    /// the file is not encrypted yet (a write is coming, or the server is starting).
    fn load_model(&self, create_key: bool) -> Result<Model, RegistryError> {
        self.model_of(self.read_disk()?, create_key)
    }

    /// Decrypts what [`Registry::read_disk`] read (see [`Registry::load_model`]).
    fn model_of(&self, disk: OnDisk, create_key: bool) -> Result<Model, RegistryError> {
        match disk {
            OnDisk::Missing => {
                self.key(create_key)?;
                Model::empty()
            }
            OnDisk::Plain(plain, mode) => {
                warn_open_plaintext(&self.file(), mode);
                let mut model = Model::empty()?;
                for (name, texts) in plain.clients {
                    let mut entries = Vec::new();
                    for (i, text) in texts.into_iter().enumerate() {
                        let text = Zeroizing::new(text);
                        // Refused whole, not served without it: a client would lose a secret
                        // it may use (or all of them) without a word.
                        let secret = Secret::new(text.as_str()).map_err(|e| {
                            RegistryError::Io(format!(
                                "{}: secret {} of client {name:?} is not a valid secret ({}); \
                                 the plaintext registry (version 1) is refused rather than \
                                 read without it. Correct or remove that entry",
                                self.file().display(),
                                i + 1,
                                e.message()
                            ))
                        })?;
                        entries.push(Entry {
                            info: SecretInfo {
                                slot: i as u32 + 1,
                                added: 0,
                            },
                            secret,
                        });
                    }
                    model.clients.insert(name, entries);
                }
                self.key(create_key)?;
                Ok(model)
            }
            OnDisk::Sealed(file) => {
                let key = self.key(false)?.ok_or_else(|| {
                    RegistryError::Key(format!(
                        "{} is encrypted but the registry key {} does not exist: pass the \
                         right --key-file (or {}); a lost key means re-adding every client",
                        self.file().display(),
                        self.key_file()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        key::KEY_ENV
                    ))
                })?;
                self.open_sealed(file, &key)
            }
        }
    }

    fn open_sealed(&self, file: SealedFile, key: &RegistryKey) -> Result<Model, RegistryError> {
        let path = self.file();
        if file.cipher != CIPHER {
            return Err(RegistryError::Io(format!(
                "{} uses cipher {:?}; this xnonce-server knows {CIPHER:?}",
                path.display(),
                file.cipher
            )));
        }
        if file.key_id != key.id() {
            return Err(RegistryError::Key(format!(
                "{} was encrypted with another key (key id {}) than the registry key {} \
                 (key id {}): wrong --key-file or {}?",
                path.display(),
                file.key_id,
                key.path().display(),
                key.id(),
                key::KEY_ENV
            )));
        }
        let mut clients = BTreeMap::new();
        for (name, sealed) in file.clients {
            let mut entries = Vec::with_capacity(sealed.len());
            for s in sealed {
                let tampered = || {
                    RegistryError::Tampered(format!(
                        "the secret of client {name:?} in slot {} of {} does not authenticate: \
                         the file was modified or corrupted (restore it from a backup, or \
                         `client replace {name}`)",
                        s.slot,
                        path.display()
                    ))
                };
                let nonce = key::decode_hex(&s.nonce).ok_or_else(tampered)?;
                let ct = key::decode_hex(&s.sealed).ok_or_else(tampered)?;
                let plain = key
                    .open(&aad(&file.registry_id, &name, s.slot), &nonce, &ct)
                    .ok_or_else(tampered)?;
                let text = Zeroizing::new(String::from_utf8_lossy(&plain).into_owned());
                let secret = Secret::new(text.as_str()).map_err(|_| tampered())?;
                entries.push(Entry {
                    info: SecretInfo {
                        slot: s.slot,
                        added: s.added,
                    },
                    secret,
                });
            }
            entries.sort_by_key(|e| e.info.slot);
            clients.insert(name, entries);
        }
        Ok(Model {
            registry_id: file.registry_id,
            encrypted: true,
            clients,
        })
    }

    /// Checks the key file and that the registry decrypts; loads the in-memory copy. The
    /// server calls it at start-up with `create_key` and refuses to start on an error.
    ///
    /// With `create_key`, a registry that records no key yet (no file, or the plaintext
    /// version 1) gets one: the key file is created if absent, and the registry is written
    /// sealed under it — empty, or the version-1 clients encrypted. From then on a `client`
    /// command run with another key file (or none, so the default one) is refused ("…
    /// encrypted with another key …") instead of sealing the registry under its own key,
    /// which this server could not read. When the registry cannot be written (a read-only
    /// data dir, or another write holding the lock for [`START_LOCK_WAIT`]) that is logged
    /// and the check goes on as without it.
    pub fn check(&self, create_key: bool) -> Result<Status, RegistryError> {
        if create_key {
            self.record_key()?;
        }
        let stamp = self.stamp();
        let model = self.load_model(create_key)?;
        let status = Status {
            clients: model.clients.len(),
            encrypted: model.encrypted,
            key_file: self.key_file()?.to_path_buf(),
        };
        self.install(model, stamp);
        Ok(status)
    }

    /// [`Registry::check`]'s recording of the key in a registry that records none yet.
    fn record_key(&self) -> Result<(), RegistryError> {
        let disk = self.read_disk()?;
        if matches!(disk, OnDisk::Sealed(_)) {
            return Ok(()); // its key is checked by the load that follows
        }
        // A plaintext registry that does not read is the error, before any key is made.
        self.model_of(disk, false)?;
        let key = self
            .key(true)?
            .ok_or_else(|| RegistryError::Key("no registry key".into()))?;
        let not_recorded = |why: String| {
            tracing::warn!(
                file = %self.file().display(),
                error = %why,
                "the registry key could not be recorded in the registry; until a `client` \
                 command writes it, a command run with another key file would seal it under \
                 that key, which this server cannot read"
            );
            Ok(())
        };
        if !self.dir.exists() {
            if let Err(e) = self.ensure_dir() {
                return not_recorded(e.to_string());
            }
        }
        let _lock = match lock::FileLock::acquire(&self.dir, START_LOCK_WAIT) {
            Ok(lock) => lock,
            Err(e) => return not_recorded(e.to_string()),
        };
        remove_leftover_temps(&self.dir);
        // Again under the lock: a write may have sealed it meanwhile (under which key, the
        // load says).
        let disk = self.read_disk()?;
        let plain = matches!(disk, OnDisk::Plain(..));
        let model = self.model_of(disk, true)?;
        if model.encrypted {
            return Ok(());
        }
        if let Err(e) = self.write_file(&model.seal(&key)?) {
            return not_recorded(e.to_string());
        }
        GENERATION.fetch_add(1, Ordering::AcqRel);
        if plain {
            tracing::info!(
                file = %self.file().display(),
                clients = model.clients.len(),
                "encrypted the plaintext registry (version 1) under the registry key"
            );
        } else {
            tracing::info!(
                file = %self.file().display(),
                "wrote an empty registry sealed under the registry key: `client` commands \
                 must use the same key file"
            );
        }
        Ok(())
    }

    fn install(&self, model: Model, stamp: Option<Stamp>) {
        let clients = model
            .clients
            .into_iter()
            .map(|(name, entries)| (name, entries.into_iter().map(|e| e.secret).collect()))
            .collect();
        let mut snap = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        snap.clients = clients;
        snap.stamp = stamp;
        snap.loaded = true;
    }

    /// Re-reads the file, under the `reloading` lock, when `force` or when its identity
    /// changed; whether new contents were installed. A file that cannot be read or decrypted
    /// keeps the last good contents and is the error; the identity of one that was read and
    /// cannot be used is noted, so an unchanged bad file is not read again at every check.
    fn reload_locked(&self, force: bool) -> Result<bool, RegistryError> {
        self.generation
            .store(GENERATION.load(Ordering::Acquire), Ordering::Release);
        let stamp = self.stamp();
        let unchanged = {
            let snap = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
            snap.loaded && stamp == snap.stamp
        };
        let outcome = if unchanged && !force {
            Ok(false)
        } else {
            // A file that could not be read (too many open files, an I/O error) is tried again
            // at the next check: its contents are unknown, and may be a `delete`.
            self.read_bytes().and_then(|read| {
                match self
                    .disk_of(read)
                    .and_then(|disk| self.model_of(disk, false))
                {
                    Ok(model) => {
                        self.install(model, stamp);
                        Ok(true)
                    }
                    Err(e) => {
                        let mut snap = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
                        snap.stamp = stamp;
                        snap.loaded = true;
                        Err(e)
                    }
                }
            })
        };
        self.checked.store(
            self.epoch.elapsed().as_millis() as u64 + 1,
            Ordering::Release,
        );
        outcome
    }

    /// Refreshes the in-memory copy when a check is due: first use, [`CHECK_INTERVAL`]
    /// elapsed, or a write from this process.
    fn refresh_if_due(&self) {
        let due = |now: u64| {
            let last = self.checked.load(Ordering::Acquire);
            last == 0
                || now.saturating_sub(last) >= CHECK_INTERVAL.as_millis() as u64
                || GENERATION.load(Ordering::Acquire) != self.generation.load(Ordering::Acquire)
        };
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        if !due(now) {
            return;
        }
        let _guard = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        if !due(now) {
            return; // another lookup just did it
        }
        self.check_locked();
    }

    /// Checks the file now (under the `reloading` lock); whether new contents were installed.
    fn check_locked(&self) -> bool {
        self.reload_locked(false).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "client registry not reloaded; keeping the last good copy");
            false
        })
    }

    /// Re-reads and decrypts the file now, whether or not it looks changed, and installs
    /// it; on an error the last good copy stays. What a server does when a `client` command
    /// of another process asks it to ([`reload`]).
    pub fn reload(&self) -> Result<(), RegistryError> {
        let _guard = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_locked(true).map(|_| ())
    }

    /// The names of the registered clients, sorted (decrypts the file, to check the key).
    pub fn list(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.load_model(false)?.clients.into_keys().collect())
    }

    /// Every registered client with the bookkeeping of its live secrets (oldest first),
    /// sorted by name: what `client list --long` prints.
    pub fn list_described(&self) -> Result<Vec<(String, Vec<SecretInfo>)>, RegistryError> {
        let model = self.load_model(false)?;
        Ok(model
            .clients
            .into_iter()
            .map(|(name, entries)| (name, entries.iter().map(|e| e.info).collect()))
            .collect())
    }

    /// The bookkeeping of a client's live secrets, oldest first.
    pub fn describe(&self, name: &str) -> Result<Vec<SecretInfo>, RegistryError> {
        let model = self.load_model(false)?;
        let entries = model
            .clients
            .get(name)
            .ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        Ok(entries.iter().map(|e| e.info).collect())
    }

    /// Registers a new client and returns its fresh secret; refuses an existing name.
    pub fn add(&self, name: &str) -> Result<Secret, RegistryError> {
        self.update(Op::Add, name, |model| {
            if model.clients.contains_key(name) {
                return Err(RegistryError::Exists(name.to_string()));
            }
            let secret = fresh()?;
            model.clients.insert(
                name.to_string(),
                vec![Entry {
                    info: SecretInfo {
                        slot: 1,
                        added: unix_now(),
                    },
                    secret: secret.clone(),
                }],
            );
            Ok(secret)
        })
    }

    /// Registers clients with the secrets they already have (a migration: see
    /// [`import`]), all or none: refuses the whole list when one of its names is already
    /// registered.
    pub fn import(&self, clients: &[import::Imported]) -> Result<(), RegistryError> {
        for c in clients {
            validate_name(&c.name)?;
        }
        let names: Vec<&str> = clients.iter().map(|c| c.name.as_str()).collect();
        self.write(Op::Import, &names.join(", "), |model| {
            if let Some(c) = clients.iter().find(|c| model.clients.contains_key(&c.name)) {
                return Err(RegistryError::Refused(format!(
                    "client {:?} (line {}) is already registered, so nothing was imported: \
                     leave it out of the list, or `client delete {} --confirm` first",
                    c.name, c.line, c.name
                )));
            }
            let added = unix_now();
            for c in clients {
                let entry = Entry {
                    info: SecretInfo { slot: 1, added },
                    secret: c.secret.clone(),
                };
                model.clients.insert(c.name.clone(), vec![entry]);
            }
            Ok(())
        })
    }

    /// Gives a client a fresh secret (the old ones stop working); creates it if absent.
    pub fn replace(&self, name: &str) -> Result<Secret, RegistryError> {
        self.update(Op::Replace, name, |model| {
            let secret = fresh()?;
            let entries = model.clients.entry(name.to_string()).or_default();
            let slot = Model::next_slot(entries);
            *entries = vec![Entry {
                info: SecretInfo {
                    slot,
                    added: unix_now(),
                },
                secret: secret.clone(),
            }];
            Ok(secret)
        })
    }

    /// Adds a fresh secret to an existing client while keeping its current ones (rotation:
    /// the server accepts any of them until [`Registry::retire`] drops the old ones).
    pub fn rotate(&self, name: &str) -> Result<Secret, RegistryError> {
        self.update(Op::Rotate, name, |model| {
            let entries = model
                .clients
                .get_mut(name)
                .ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
            if entries.len() >= MAX_LIVE_SECRETS {
                return Err(RegistryError::Refused(format!(
                    "client {name:?} already has {MAX_LIVE_SECRETS} live secrets; \
                     `client retire {name}` first"
                )));
            }
            let secret = fresh()?;
            let slot = Model::next_slot(entries);
            entries.push(Entry {
                info: SecretInfo {
                    slot,
                    added: unix_now(),
                },
                secret: secret.clone(),
            });
            Ok(secret)
        })
    }

    /// Drops every secret of a client but the newest (the end of a rotation); refuses a
    /// client with a single secret.
    pub fn retire(&self, name: &str) -> Result<Retired, RegistryError> {
        self.update(Op::Retire, name, |model| {
            let entries = model
                .clients
                .get_mut(name)
                .ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
            if entries.len() < 2 {
                return Err(RegistryError::Refused(format!(
                    "client {name:?} has a single secret: nothing to retire \
                     (`client rotate {name}` first)"
                )));
            }
            let kept = entries.split_off(entries.len() - 1);
            let retired = std::mem::replace(entries, kept);
            Ok(Retired {
                retired: retired.iter().map(|e| e.info).collect(),
                kept: entries[0].info,
            })
        })
    }

    /// Removes a client.
    pub fn delete(&self, name: &str) -> Result<(), RegistryError> {
        self.update(Op::Delete, name, |model| {
            model
                .clients
                .remove(name)
                .map(|_| ())
                .ok_or_else(|| RegistryError::NotFound(name.to_string()))
        })
    }

    /// [`Registry::write`] of a change to the client `name`, once the name is checked.
    fn update<T>(
        &self,
        op: Op,
        name: &str,
        change: impl FnOnce(&mut Model) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        validate_name(name)?;
        if matches!(op, Op::Rotate | Op::Retire | Op::Delete)
            && matches!(self.file().try_exists(), Ok(false))
        {
            // No registry, so no such client: refused before anything is created (the data
            // dir, its lock file, a registry key), as a mistyped --data would leave them.
            return Err(RegistryError::NotFound(name.to_string()));
        }
        self.write(op, name, change)
    }

    /// Read, change, seal and write the registry under the lock, then ask the running
    /// servers to re-read it: [`RegistryError::NotReloaded`] when one answers that it cannot
    /// (its message names the clients changed, `name`).
    fn write<T>(
        &self,
        op: Op,
        name: &str,
        change: impl FnOnce(&mut Model) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        // An existing key is checked before anything is created.
        self.key(false)?;
        self.ensure_dir()?;
        let lock = lock::FileLock::acquire(&self.dir, lock::LOCK_WAIT)?;
        remove_leftover_temps(&self.dir);
        // Creates the key file only when the registry is not encrypted yet.
        let mut model = self.load_model(true)?;
        let out = change(&mut model)?;
        let key = self
            .key(true)?
            .ok_or_else(|| RegistryError::Key("no registry key".into()))?;
        let file = model.seal(&key)?;
        self.write_file(&file)?;
        GENERATION.fetch_add(1, Ordering::AcqRel);
        drop(lock);
        let notified = reload::notify_servers(&self.dir);
        tracing::debug!(
            servers = notified.reloaded,
            "running servers re-read the client registry"
        );
        for (socket, why) in &notified.unanswered {
            tracing::warn!(
                socket = %socket.display(),
                error = %why,
                "a running server did not confirm that it re-read the client registry; it \
                 will see the change within {} s",
                CHECK_INTERVAL.as_secs()
            );
        }
        if !notified.refused.is_empty() {
            let servers: Vec<String> = notified
                .refused
                .iter()
                .map(|(socket, why)| format!("the server listening on {}: {why}", socket.display()))
                .collect();
            return Err(RegistryError::NotReloaded(format!(
                "{} was written, but {} could not re-read it and {} serving {} previous \
                 copy ({}). {}",
                self.file().display(),
                if servers.len() == 1 {
                    "a running server".to_string()
                } else {
                    format!("{} running servers", servers.len())
                },
                if servers.len() == 1 { "keeps" } else { "keep" },
                if servers.len() == 1 { "its" } else { "their" },
                servers.join("; "),
                op.not_reloaded(name)
            )));
        }
        Ok(out)
    }

    /// Creates the data dir `0700`, or makes an existing one private ([`secure_dir`]); a
    /// data dir that is not a directory (nor a symlink to one) is the error.
    fn ensure_dir(&self) -> Result<(), RegistryError> {
        match fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => log_secure_dir(&self.dir, &secure_dir(&self.dir)),
            Ok(_) => return Err(not_a_dir(&self.dir)),
            Err(_) => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&self.dir)
                    .map_err(|e| io_err("create", &self.dir, e))?;
                fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| io_err("set permissions of", &self.dir, e))?;
                crate::ownership::give_path_to_folder_owner(&self.dir);
                // The new data dir's own entry, so that the registry written in it next is
                // reachable after a power loss.
                sync_parent_or_warn(&self.dir);
            }
        }
        Ok(())
    }

    fn write_file(&self, file: &SealedFile) -> Result<(), RegistryError> {
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
            crate::ownership::give_to_folder_owner(&f, &path);
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            #[cfg(debug_assertions)]
            pause_for_tests();
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("write", &path, e)
        })?;
        // The rename is a change of the directory: until the directory is synced, a power
        // loss or kernel crash may bring back the previous file — a deleted client, or the
        // secrets a `replace` or `retire` ended, accepted again after the reboot.
        sync_dir_or_warn(&self.dir);
        Ok(())
    }
}

/// Syncs a directory (`fsync(2)` on it), so that the entries created, renamed or linked in
/// it survive a power loss or kernel crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// [`sync_dir_or_warn`] of the directory holding `path` (none for a bare relative name: the
/// current directory's own entry is not `path`'s to sync), after `path` was created in it.
pub(crate) fn sync_parent_or_warn(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir_or_warn(parent);
    }
}

/// [`sync_dir`] after a change that is made and visible: a failure cannot take the change
/// back, so it is a warning (a file system that cannot sync directories, or an I/O error:
/// the change may not survive a power loss).
pub(crate) fn sync_dir_or_warn(dir: &Path) {
    if let Err(e) = sync_dir(dir) {
        tracing::warn!(
            dir = %dir.display(),
            error = %e,
            "cannot sync the directory: the change just made to it may not survive a power \
             loss or kernel crash"
        );
    }
}

/// Test-only, and read by debug builds only: when this names a path, a registry write that
/// has written and synced its temporary file (holding the lock) creates that file and waits
/// until it is removed, at most 60 s, before renaming — a slow write for the tests of the
/// lock (`tests/registry_cli.rs`).
#[cfg(debug_assertions)]
const PAUSE_ENV: &str = "XNONCE_TEST_PAUSE_BEFORE_RENAME";

#[cfg(debug_assertions)]
fn pause_for_tests() {
    let Some(flag) = std::env::var_os(PAUSE_ENV).filter(|v| !v.is_empty()) else {
        return;
    };
    let flag = PathBuf::from(flag);
    if fs::write(&flag, std::process::id().to_string()).is_err() {
        return;
    }
    let start = Instant::now();
    while flag.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A registry file serde could not read. serde's message may quote a value (`invalid type:
/// string "…"`), and in a registry file that value may be a secret in clear: the error says
/// where, and what serde said only when that names a field rather than a value.
fn not_a_registry(path: &Path, what: &str, e: &serde_json::Error) -> String {
    let full = e.to_string();
    let why = match e.classify() {
        serde_json::error::Category::Io => "cannot be read".to_string(),
        serde_json::error::Category::Eof => "ends early".to_string(),
        serde_json::error::Category::Syntax => "is not valid JSON".to_string(),
        // These name a field of the format, never a value of the file.
        serde_json::error::Category::Data
            if full.starts_with("missing field `") || full.starts_with("duplicate field `") =>
        {
            full.split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string()
        }
        serde_json::error::Category::Data => "holds a value of the wrong type or form".into(),
    };
    format!(
        "{} is not a valid {what}: line {}, column {}: {why}",
        path.display(),
        e.line(),
        e.column()
    )
}

/// The plaintext (version 1) files already warned about by this process.
static WARNED_OPEN: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Warns, once per file and process, that a plaintext (version 1) registry is open to group
/// or others. A warning, not a refusal, as for a data dir open to others ([`secure_dir`]):
/// refusing would not take back what others may have read, and the way out — sealing the
/// registry (0600), which `serve` and every write do, then rotating — needs it read.
fn warn_open_plaintext(file: &Path, mode: u32) {
    if mode & 0o077 == 0 {
        return;
    }
    let mut warned = WARNED_OPEN.lock().unwrap_or_else(|p| p.into_inner());
    if warned.iter().any(|p| p == file) {
        return;
    }
    warned.push(file.to_path_buf());
    tracing::warn!(
        file = %file.display(),
        "the plaintext registry (version 1) is mode {mode:04o}: other users may have read \
         (or changed) the secrets in it. `serve` or the next `client` write encrypts it \
         (mode 0600); then rotate every client's secret (`client rotate`, then `retire`)"
    );
}

/// Whether `name` is a write's temporary file: `.clients.json.<pid>.tmp`.
fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(".")
        .and_then(|n| n.strip_prefix(FILE_NAME))
        .and_then(|n| n.strip_prefix("."))
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the temporary files (`.clients.json.<pid>.tmp`, sealed, `0600`) of writes that
/// ended before their rename (`kill -9`, a crash). Called holding the lock: only its holder
/// writes such a file, so any there then is a leftover, whatever its pid.
fn remove_leftover_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let temp = entry.file_name().to_str().is_some_and(is_temp_name)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if temp && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(
            data_dir = %dir.display(),
            removed,
            "removed temporary files left by interrupted registry writes"
        );
    }
}

fn validate_name(name: &str) -> Result<(), RegistryError> {
    xnonce_core::client_id::validate(name)
        .map_err(|e| RegistryError::InvalidName(e.message().to_string()))
}

fn fresh() -> Result<Secret, RegistryError> {
    Secret::generate().map_err(|e| RegistryError::Io(e.message().to_string()))
}

impl SecretSource for Registry {
    fn secrets(&self, client: &str) -> Vec<Secret> {
        let mut copy = Vec::new();
        self.with_secrets(client, &mut |live| copy = live.to_vec());
        copy
    }

    /// Lends the snapshot's secrets under its read lock (no copy): a reload waits for the
    /// verifications in progress, which take microseconds.
    fn with_secrets(&self, client: &str, f: &mut dyn FnMut(&[Secret])) {
        self.refresh_if_due();
        let snapshot = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        f(snapshot.clients.get(client).map_or(&[], Vec::as_slice))
    }

    /// Checks the file at once (one `stat`, and a re-read only when it changed), without
    /// waiting for [`CHECK_INTERVAL`]: the verifier asks after a request that matched no
    /// secret in memory, so a client another process just added or replaced is accepted
    /// from its first request.
    fn refresh(&self) -> bool {
        let _guard = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        self.check_locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rotate`, `retire` and `delete` of a client where there is no registry (a mistyped
    /// `--data`) are refused creating nothing: no data dir, no lock file, no registry key.
    #[test]
    fn a_change_to_a_client_of_no_registry_creates_nothing() {
        let (data, key) = tmp();
        let r = Registry::open_with_key_file(&data, Some(key.clone()));
        for (op, result) in [
            ("rotate", r.rotate("svc").map(drop)),
            ("retire", r.retire("svc").map(drop)),
            ("delete", r.delete("svc")),
        ] {
            assert!(matches!(result, Err(RegistryError::NotFound(_))), "{op}");
            assert!(!data.exists(), "{op} created the data dir");
            assert!(!key.exists(), "{op} created a registry key");
        }
        r.add("svc").unwrap();
        assert!(r.rotate("svc").is_ok() && r.retire("svc").is_ok() && r.delete("svc").is_ok());
        fs::remove_dir_all(data.parent().unwrap()).unwrap();
    }

    /// A fresh `<tmp>/…/data` with its own key file beside it (`<tmp>/…/registry.key`).
    pub(super) fn tmp() -> (PathBuf, PathBuf) {
        // A counter as well as the time: tests run in parallel threads, and a coarse clock
        // could give two of them the same nanosecond.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "xnonce-registry-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        (base.join("data"), base.join("keys").join("registry.key"))
    }

    pub(super) fn open(dir: &Path, key: &Path) -> Registry {
        Registry::open_with_key_file(dir, Some(key.to_path_buf()))
    }

    #[test]
    fn add_replace_rotate_retire_delete_list() {
        let (dir, key) = tmp();
        let r = open(&dir, &key);
        let s1 = r.add("svc").unwrap();
        assert_eq!(s1.expose().len(), 64);
        let [made] = r.describe("svc").unwrap()[..] else {
            panic!("one secret")
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(made.slot == 1 && now.abs_diff(made.added) < 60, "{made:?}");
        assert!(matches!(r.add("svc"), Err(RegistryError::Exists(_))));
        assert!(matches!(
            r.add("bad name"),
            Err(RegistryError::InvalidName(_))
        ));
        assert_eq!(r.secrets("svc"), vec![s1.clone()]);
        assert!(matches!(r.retire("svc"), Err(RegistryError::Refused(_))));
        let s2 = r.rotate("svc").unwrap();
        assert_eq!(r.secrets("svc"), vec![s1.clone(), s2.clone()]);
        // Lent without a copy: the same secrets, in the same order; none for a stranger.
        let mut lent = Vec::new();
        r.with_secrets("svc", &mut |live| lent = live.to_vec());
        assert_eq!(lent, vec![s1.clone(), s2.clone()]);
        r.with_secrets("nobody", &mut |live| lent = live.to_vec());
        assert!(lent.is_empty());
        let s3 = r.rotate("svc").unwrap();
        let retired = r.retire("svc").unwrap();
        assert_eq!(
            retired.retired.iter().map(|i| i.slot).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(retired.kept.slot, 3);
        assert_eq!(r.secrets("svc"), vec![s3]);
        let s4 = r.replace("svc").unwrap();
        assert_eq!(r.secrets("svc"), vec![s4]);
        assert_eq!(r.describe("svc").unwrap()[0].slot, 4);
        assert!(matches!(
            r.rotate("nobody"),
            Err(RegistryError::NotFound(_))
        ));
        r.replace("other").unwrap();
        assert_eq!(r.list().unwrap(), vec!["other", "svc"]);
        r.delete("other").unwrap();
        assert!(matches!(r.delete("other"), Err(RegistryError::NotFound(_))));
        assert_eq!(r.list().unwrap(), vec!["svc"]);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&r.file()), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&key), 0o600);
        // The file holds no secret in clear.
        let text = fs::read_to_string(r.file()).unwrap();
        assert!(text.contains("\"version\": 2"), "{text}");
        assert!(!text.contains(r.secrets("svc")[0].expose()));
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_second_handle_sees_new_clients() {
        let (dir, key) = tmp();
        let server = open(&dir, &key);
        assert!(server.secrets("late").is_empty());
        let s = open(&dir, &key).add("late").unwrap();
        assert_eq!(server.secrets("late"), vec![s]);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_plaintext_registry_is_read_then_encrypted_by_the_next_write() {
        let (dir, key) = tmp();
        fs::create_dir_all(&dir).unwrap();
        let (old, older) = ("0f".repeat(32), "e1".repeat(32));
        fs::write(
            dir.join(FILE_NAME),
            format!("{{\"version\": 1, \"clients\": {{\"legacy\": [\"{old}\", \"{older}\"]}}}}"),
        )
        .unwrap();
        let r = open(&dir, &key);
        assert_eq!(r.secrets("legacy")[0].expose(), old);
        assert!(!r.check(false).unwrap().encrypted);
        let new = r.add("fresh").unwrap();
        let text = fs::read_to_string(r.file()).unwrap();
        assert!(
            !text.contains(&old) && !text.contains(new.expose()),
            "{text}"
        );
        let again = open(&dir, &key);
        assert!(again.check(false).unwrap().encrypted);
        assert_eq!(again.secrets("legacy")[0].expose(), old);
        assert_eq!(again.secrets("legacy")[1].expose(), older);
        // Migrated secrets are numbered from 1 in file order, their time unknown.
        let info = |slot| SecretInfo { slot, added: 0 };
        assert_eq!(again.describe("legacy").unwrap(), [info(1), info(2)]);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_registry_file_that_cannot_be_read_is_an_error_not_an_empty_registry() {
        let (dir, key) = tmp();
        fs::create_dir_all(&dir).unwrap();
        // A symlink to itself: reading fails (ELOOP), and not because it is missing.
        std::os::unix::fs::symlink(FILE_NAME, dir.join(FILE_NAME)).unwrap();
        let r = open(&dir, &key);
        let e = r.list().unwrap_err();
        assert!(matches!(e, RegistryError::Io(_)), "{e}");
        assert!(r.add("svc").is_err(), "a new registry written over it");
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn wrong_key_and_tampering_are_clear_errors() {
        let (dir, key) = tmp();
        let r = open(&dir, &key);
        r.add("a").unwrap();
        r.add("b").unwrap();
        // Another key.
        let other_key = key.with_file_name("other.key");
        RegistryKey::load_or_create(&other_key, &dir).unwrap();
        let e = open(&dir, &other_key).check(true).unwrap_err();
        assert!(matches!(e, RegistryError::Key(_)), "{e}");
        assert!(e.to_string().contains("another key"), "{e}");
        // A missing key for an encrypted registry.
        let e = open(&dir, &key.with_file_name("absent.key"))
            .list()
            .unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        // Swapping the sealed secrets of two clients.
        let mut doc: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(r.file()).unwrap()).unwrap();
        let a = doc["clients"]["a"].take();
        doc["clients"]["a"] = doc["clients"]["b"].clone();
        doc["clients"]["b"] = a;
        fs::write(r.file(), doc.to_string()).unwrap();
        let e = open(&dir, &key).list().unwrap_err();
        assert!(matches!(e, RegistryError::Tampered(_)), "{e}");
        assert!(e.to_string().contains("does not authenticate"), "{e}");
        // A flipped byte.
        let mut doc: serde_json::Value = doc;
        let a = doc["clients"]["b"].take();
        doc["clients"]["b"] = doc["clients"]["a"].clone();
        doc["clients"]["a"] = a;
        let sealed = doc["clients"]["a"][0]["sealed"]
            .as_str()
            .unwrap()
            .to_string();
        let flipped = format!(
            "{}{}",
            if &sealed[..1] == "0" { "1" } else { "0" },
            &sealed[1..]
        );
        doc["clients"]["a"][0]["sealed"] = flipped.into();
        fs::write(r.file(), doc.to_string()).unwrap();
        assert!(matches!(
            open(&dir, &key).list(),
            Err(RegistryError::Tampered(_))
        ));
        // Garbage.
        fs::write(r.file(), "{\"version\": 2, \"clients\": 7}").unwrap();
        assert!(matches!(open(&dir, &key).list(), Err(RegistryError::Io(_))));
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_sealed_secret_moved_to_another_registry_does_not_open() {
        // Two registries under one key: each has its own random id, bound to every secret.
        let (dir, key) = tmp();
        let other_dir = dir.with_file_name("other-data");
        let (a, b) = (open(&dir, &key), open(&other_dir, &key));
        a.add("svc").unwrap();
        b.add("svc").unwrap();
        let read = |r: &Registry| -> serde_json::Value {
            serde_json::from_str(&fs::read_to_string(r.file()).unwrap()).unwrap()
        };
        let (doc_a, mut doc_b) = (read(&a), read(&b));
        let id = |doc: &serde_json::Value| doc["registry_id"].as_str().unwrap().to_string();
        let hex32 =
            |t: &str| t.len() == 32 && t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        assert!(hex32(&id(&doc_a)), "{}", id(&doc_a));
        assert_ne!(id(&doc_a), id(&doc_b));
        doc_b["clients"]["svc"] = doc_a["clients"]["svc"].clone();
        fs::write(b.file(), doc_b.to_string()).unwrap();
        let e = open(&other_dir, &key).list().unwrap_err();
        assert!(matches!(e, RegistryError::Tampered(_)), "{e}");
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn only_an_own_data_dir_open_to_others_is_made_private() {
        let (dir, _) = tmp();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let set = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m));
        assert_eq!(secure_dir(&dir), DirMode::Private, "absent");
        fs::create_dir_all(&dir).unwrap();
        set(&dir, 0o700).unwrap();
        assert_eq!(secure_dir(&dir), DirMode::Private);
        set(&dir, 0o750).unwrap();
        assert_eq!(secure_dir(&dir), DirMode::Tightened(0o750));
        assert_eq!(mode(&dir), 0o700);
        // Shared directories (sticky, or world-writable) are left alone.
        for shared in [0o1777, 0o1770, 0o777] {
            set(&dir, shared).unwrap();
            assert!(
                matches!(secure_dir(&dir), DirMode::Open(m, _) if m == shared),
                "{shared:o}"
            );
            assert_eq!(mode(&dir), shared);
        }
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// The audit's repro: `client add x --data f1` with `f1` a regular file set it to 0700
    /// (then failed to lock `f1/.clients.lock`).
    #[test]
    fn a_data_dir_that_is_not_a_directory_keeps_its_mode_and_is_refused() {
        let (dir, key) = tmp();
        let base = dir.parent().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let set = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m));
        fs::create_dir_all(base).unwrap();
        let file = base.join("bashrc");
        fs::write(&file, "x").unwrap();
        set(&file, 0o644).unwrap();
        let to_file = base.join("to-file");
        std::os::unix::fs::symlink(&file, &to_file).unwrap();
        for data in [&file, &to_file] {
            assert_eq!(secure_dir(data), DirMode::NotADirectory);
            for e in [
                open(data, &key).add("x").unwrap_err(),
                open(data, &key).list().unwrap_err(),
                open(data, &key).check(true).unwrap_err(),
            ] {
                let expected = format!("data dir {} is not a directory", data.display());
                assert_eq!(e.to_string(), expected);
            }
            assert_eq!(mode(&file), 0o644);
        }
        // A symlink to a directory is a data dir: made private, written through.
        fs::create_dir(&dir).unwrap();
        set(&dir, 0o750).unwrap();
        let to_dir = base.join("to-dir");
        std::os::unix::fs::symlink(&dir, &to_dir).unwrap();
        assert_eq!(secure_dir(&to_dir), DirMode::Tightened(0o750));
        assert_eq!(mode(&dir), 0o700);
        open(&to_dir, &key).add("svc").unwrap();
        assert_eq!(open(&dir, &key).list().unwrap(), ["svc"]);
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn concurrent_writers_wait_for_each_other_and_lose_no_update() {
        let (dir, key) = tmp();
        open(&dir, &key).add("first").unwrap();
        std::thread::scope(|scope| {
            for i in 0..8 {
                let (dir, key) = (&dir, &key);
                scope.spawn(move || open(dir, key).add(&format!("c{i}")).unwrap());
            }
        });
        assert_eq!(open(&dir, &key).list().unwrap().len(), 9);
        // The lock file stays (the lock is the kernel's, released with its holder).
        assert!(dir.join(lock::LOCK_FILE).exists());
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_starting_server_records_its_key_so_writes_with_another_key_are_refused() {
        let (dir, key) = tmp();
        let server = open(&dir, &key);
        let status = server.check(true).unwrap();
        assert!(status.encrypted && status.clients == 0, "{status:?}");
        let doc: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(server.file()).unwrap()).unwrap();
        let id = RegistryKey::load(&key, &dir).unwrap().id().to_string();
        assert_eq!(
            (doc["version"].as_u64(), doc["key_id"].as_str()),
            (Some(2), Some(&*id))
        );
        assert_eq!(doc["clients"], serde_json::json!({}));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&server.file()), 0o600);
        let before = fs::read(server.file()).unwrap();

        // Another key file: refused, naming it; nothing written.
        let other = key.with_file_name("other.key");
        RegistryKey::load_or_create(&other, &dir).unwrap();
        let e = open(&dir, &other).add("foo").unwrap_err();
        assert!(matches!(e, RegistryError::Key(_)), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("another key") && msg.contains(&other.display().to_string()),
            "{msg}"
        );
        // A key file that does not exist (a forgotten --key-file): refused, not created.
        let absent = key.with_file_name("absent.key");
        let e = open(&dir, &absent).add("foo").unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(!absent.exists());
        assert_eq!(fs::read(server.file()).unwrap(), before);

        // Checked again: already recorded, left as it is. The server's key writes.
        server.check(true).unwrap();
        assert_eq!(fs::read(server.file()).unwrap(), before);
        let s = open(&dir, &key).add("foo").unwrap();
        assert_eq!(server.secrets("foo"), [s]);
        // A check without `create_key` (`client list`) writes nothing.
        let (bare, bare_key) = tmp();
        assert!(!open(&bare, &bare_key).check(false).unwrap().encrypted);
        assert!(!bare.exists() && !bare_key.exists());
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_starting_server_encrypts_a_plaintext_registry() {
        let (dir, key) = tmp();
        fs::create_dir_all(&dir).unwrap();
        let old = "5a".repeat(32);
        let plain = format!("{{\"version\": 1, \"clients\": {{\"legacy\": [\"{old}\"]}}}}");
        fs::write(dir.join(FILE_NAME), &plain).unwrap();
        assert!(!open(&dir, &key).check(false).unwrap().encrypted);
        assert_eq!(fs::read_to_string(dir.join(FILE_NAME)).unwrap(), plain);
        let server = open(&dir, &key);
        let status = server.check(true).unwrap();
        assert!(status.encrypted && status.clients == 1, "{status:?}");
        let text = fs::read_to_string(server.file()).unwrap();
        assert!(
            text.contains("\"version\": 2") && !text.contains(&old),
            "{text}"
        );
        assert_eq!(server.secrets("legacy")[0].expose(), old);
        assert_eq!(open(&dir, &key).describe("legacy").unwrap()[0].added, 0);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_plaintext_entry_that_is_no_secret_is_refused_naming_its_client_and_not_the_text() {
        let (dir, key) = tmp();
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join(FILE_NAME);
        let good = "3c".repeat(32);
        for (bad, why) in [("", "empty"), ("two words", "whitespace")] {
            let text = format!(
                "{{\"version\": 1, \"clients\": {{\"ok\": [\"{good}\"], \
                 \"broken\": [\"{good}\", \"{bad}\"]}}}}"
            );
            fs::write(&file, &text).unwrap();
            let e = open(&dir, &key).list().unwrap_err();
            assert!(matches!(e, RegistryError::Io(_)), "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains("secret 2 of client \"broken\" is not a valid secret")
                    && msg.contains(why),
                "{msg}"
            );
            assert!(!msg.contains(&good) && (bad.is_empty() || !msg.contains(bad)));
            // Neither a starting server nor a write goes on without it; nothing is made.
            assert!(open(&dir, &key).check(true).is_err());
            assert!(open(&dir, &key).add("new").is_err());
            assert_eq!(fs::read_to_string(&file).unwrap(), text);
            assert!(!key.exists());
        }
        // A secret where a list belongs: the error says where, not what.
        fs::write(
            &file,
            format!("{{\"version\": 1, \"clients\": {{\"broken\": \"{good}\"}}}}"),
        )
        .unwrap();
        let msg = open(&dir, &key).list().unwrap_err().to_string();
        assert!(
            msg.contains("not a valid plaintext registry (version 1): line 1, column"),
            "{msg}"
        );
        assert!(!msg.contains(&good), "{msg}");
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_malformed_registry_never_quotes_a_secret_in_its_error() {
        let (dir, key) = tmp();
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join(FILE_NAME);
        let secret = "7e".repeat(32);
        for text in [
            // A hand-edited version-1 file relabelled version 2.
            format!("{{\"version\": 2, \"clients\": {{\"legacy\": [\"{secret}\"]}}}}"),
            format!(
                "{{\"version\": 2, \"cipher\": \"xchacha20poly1305\", \"key_id\": \"00\", \
                 \"registry_id\": \"00\", \"clients\": {{\"legacy\": [\"{secret}\"]}}}}"
            ),
            // A secret where the whole document (or the version) belongs.
            format!("\"{secret}\""),
            format!("{{\"version\": \"{secret}\"}}"),
            format!("[\"{secret}\"]"),
        ] {
            fs::write(&file, &text).unwrap();
            let e = open(&dir, &key).list().unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, RegistryError::Io(_)), "{msg}");
            assert!(msg.contains("line 1, column"), "{msg}");
            assert!(!msg.contains(&secret[..16]), "{text}: {msg}");
            let debug = format!("{e:?}");
            assert!(!debug.contains(&secret[..16]), "{debug}");
        }
        // What serde says about a missing field names no value: still reported.
        fs::write(&file, "{\"version\": 2, \"clients\": {}}").unwrap();
        let msg = open(&dir, &key).list().unwrap_err().to_string();
        assert!(msg.contains("missing field `cipher`"), "{msg}");
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn leftover_temporary_files_are_removed_by_the_next_write_and_nothing_else() {
        let (dir, key) = tmp();
        fs::create_dir_all(&dir).unwrap();
        let leftovers = [".clients.json.4242.tmp", ".clients.json.1.tmp"];
        let others = [
            ".clients.json.tmp",
            ".clients.json.12ab.tmp",
            "clients.json.7.tmp",
            ".clients.json.7.tmp.bak",
            ".other.json.7.tmp",
        ];
        for name in leftovers.iter().chain(&others) {
            fs::write(dir.join(name), "x").unwrap();
        }
        fs::create_dir(dir.join(".clients.json.99.tmp")).unwrap();
        // A read leaves them (it takes no lock); a write removes the leftovers only.
        open(&dir, &key).list().unwrap();
        assert!(dir.join(leftovers[0]).exists());
        open(&dir, &key).add("svc").unwrap();
        for name in leftovers {
            assert!(!dir.join(name).exists(), "{name}");
        }
        for name in others.iter().chain(&[".clients.json.99.tmp"]) {
            assert!(dir.join(name).exists(), "{name}");
        }
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_827_696), "2000-02-29 12:34:56 UTC");
        // Century and era boundaries (expected values from Python's datetime).
        for (secs, date) in [
            (946_684_799, "1999-12-31 23:59:59 UTC"),
            (2_147_483_647, "2038-01-19 03:14:07 UTC"),
            (4_107_542_399, "2100-02-28 23:59:59 UTC"),
            (4_107_542_400, "2100-03-01 00:00:00 UTC"),
            (13_574_563_200, "2400-02-29 00:00:00 UTC"),
            (253_402_300_799, "9999-12-31 23:59:59 UTC"),
        ] {
            assert_eq!(utc(secs), date, "{secs}");
        }
        let info = |added| SecretInfo { slot: 2, added }.to_string();
        assert_eq!(
            info(1_700_000_000),
            "slot 2 (added 2023-11-14 22:13:20 UTC)"
        );
        assert_eq!(info(0), "slot 2 (added before encryption, time unknown)");
    }
}
