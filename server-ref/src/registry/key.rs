//! The registry key: the 32-byte XChaCha20-Poly1305 key that seals the client secrets in
//! `clients.json`, kept in a file **outside** the data dir.
//!
//! * Location, in order: `--key-file PATH`, the `XNONCE_KEY_FILE` environment variable, the
//!   config's `key_file`, `$XDG_CONFIG_HOME/xnonce/registry.key`,
//!   `$HOME/.config/xnonce/registry.key` ([`resolve_path`]).
//! * Format: 64 hex characters and a newline (32 bytes from the OS CSPRNG).
//! * Created on first use (`client add`, `serve`, or any write to a registry that is not
//!   encrypted yet): mode `0600`, missing parent directories `0700`; created atomically
//!   (temporary file hard-linked into place), so two commands starting at once agree on one key.
//! * Refused, with the path and the fix in the message, when the file is readable or writable
//!   by group or others, when its directory is writable by group or others (without the
//!   sticky bit), when it is not a regular file, or when it sits inside the data dir (a copy or
//!   backup of the data dir must not carry the key with it).
//! * Never printed: `Debug` shows the path and the key id only. The key id (16 hex, an HMAC of
//!   a fixed label under the key) is stored in the registry file, to tell a wrong key from a
//!   tampered file.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use zeroize::{Zeroize, Zeroizing};

use super::RegistryError;

/// The environment variable naming the key file.
pub const KEY_ENV: &str = "XNONCE_KEY_FILE";
/// The key file's name in the default location.
pub const KEY_FILE_NAME: &str = "registry.key";
/// The AEAD nonce length (XChaCha20-Poly1305: 24 bytes, random per sealed secret).
pub const NONCE_LEN: usize = 24;

/// The key file to use: `explicit` (the `--key-file` flag, or the config's `key_file`), else
/// `XNONCE_KEY_FILE`, else [`default_path`]. Relative paths are taken from the working
/// directory.
pub fn resolve_path(explicit: Option<&Path>) -> Result<PathBuf, RegistryError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    match std::env::var_os(KEY_ENV).filter(|v| !v.is_empty()) {
        Some(p) => Ok(PathBuf::from(p)),
        None => default_path(),
    }
}

/// The default key file: `$XDG_CONFIG_HOME/xnonce/registry.key`, else
/// `$HOME/.config/xnonce/registry.key`.
pub fn default_path() -> Result<PathBuf, RegistryError> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(base) = std::env::var_os("XDG_CONFIG_HOME").and_then(absolute) {
        return Ok(base.join("xnonce").join(KEY_FILE_NAME));
    }
    if let Some(home) = std::env::var_os("HOME").and_then(absolute) {
        return Ok(home.join(".config").join("xnonce").join(KEY_FILE_NAME));
    }
    Err(RegistryError::Key(format!(
        "no place for the registry key: neither XDG_CONFIG_HOME nor HOME is set; \
         pass --key-file PATH or set {KEY_ENV}"
    )))
}

/// A loaded registry key.
pub struct RegistryKey {
    path: PathBuf,
    cipher: XChaCha20Poly1305,
    id: String,
}

impl std::fmt::Debug for RegistryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryKey")
            .field("path", &self.path)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn key_err(msg: String) -> RegistryError {
    RegistryError::Key(msg)
}

/// `path` made absolute and with `.`/`..` and symlinks of its existing part resolved.
fn resolved(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    // Canonicalize the longest existing ancestor, then append the rest lexically.
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return normalize(&out);
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return normalize(&abs),
        }
    }
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Refuses a key file inside the data dir (whether or not it exists yet).
pub fn check_outside(path: &Path, data_dir: &Path) -> Result<(), RegistryError> {
    let (key, data) = (resolved(path), resolved(data_dir));
    if key.starts_with(&data) {
        return Err(key_err(format!(
            "the registry key {} is inside the data dir {}: a copy of the data dir would carry \
             the key with it; move the key out (e.g. `mv {} ~/.config/xnonce/{KEY_FILE_NAME}`) \
             and pass --key-file or set {KEY_ENV}",
            path.display(),
            data_dir.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Refuses a key file that is not a private regular file in a directory only its owner can
/// change.
fn check_permissions(path: &Path) -> Result<(), RegistryError> {
    let meta = fs::metadata(path).map_err(|e| {
        key_err(format!(
            "cannot read the registry key {}: {e}",
            path.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(key_err(format!(
            "the registry key {} is not a regular file",
            path.display()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(key_err(format!(
            "the registry key {} is readable or writable by group or others (mode {mode:04o}); \
             refusing to use it. Fix: `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    if let Ok(dm) = fs::metadata(&dir) {
        let dmode = dm.mode() & 0o7777;
        if dmode & 0o022 != 0 && dmode & 0o1000 == 0 {
            return Err(key_err(format!(
                "the directory {} holding the registry key is writable by group or others \
                 (mode {dmode:04o}), so they could replace the key; refusing to use it. \
                 Fix: `chmod 700 {}` or move the key",
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

fn decode_hex32(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let t = text.as_bytes();
    if t.len() != 64 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, pair) in t.chunks(2).enumerate() {
        let h = (pair[0] as char).to_digit(16)?;
        let l = (pair[1] as char).to_digit(16)?;
        out[i] = ((h << 4) | l) as u8;
    }
    Some(out)
}

/// Decodes hex (either case); `None` on any other character or an odd length.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks(2)
        .map(|p| {
            let h = (p[0] as char).to_digit(16)?;
            let l = (p[1] as char).to_digit(16)?;
            Some(((h << 4) | l) as u8)
        })
        .collect()
}

impl RegistryKey {
    fn from_bytes(path: &Path, bytes: &[u8; 32]) -> RegistryKey {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(bytes)
            .expect("HMAC accepts any key length");
        mac.update(b"xnonce registry key id v1");
        let tag = mac.finalize().into_bytes();
        RegistryKey {
            path: path.to_path_buf(),
            cipher: XChaCha20Poly1305::new(Key::from_slice(bytes)),
            id: xnonce_core::hex::encode(&tag[..8]),
        }
    }

    /// Loads an existing key file, after the location and permission checks.
    pub fn load(path: &Path, data_dir: &Path) -> Result<RegistryKey, RegistryError> {
        check_outside(path, data_dir)?;
        check_permissions(path)?;
        let mut bytes = fs::read(path).map_err(|e| {
            key_err(format!(
                "cannot read the registry key {}: {e}",
                path.display()
            ))
        })?;
        let text = Zeroizing::new(String::from_utf8_lossy(&bytes).trim().to_string());
        bytes.zeroize();
        let key = decode_hex32(&text).ok_or_else(|| {
            key_err(format!(
                "the registry key {} is not 64 hex characters",
                path.display()
            ))
        })?;
        Ok(RegistryKey::from_bytes(path, &key))
    }

    /// Loads the key file, creating it first when it does not exist.
    pub fn load_or_create(path: &Path, data_dir: &Path) -> Result<RegistryKey, RegistryError> {
        check_outside(path, data_dir)?;
        if fs::symlink_metadata(path).is_err() {
            create(path)?;
        }
        RegistryKey::load(path, data_dir)
    }

    /// Whether a key file exists at `path` (a dangling symlink counts: loading it will say
    /// what is wrong).
    pub fn exists(path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok()
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key id: 16 hex characters that identify the key without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` with a fresh random nonce; returns (nonce, ciphertext + tag).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), RegistryError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce)
            .map_err(|_| RegistryError::Io("the OS random generator failed".into()))?;
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| RegistryError::Io("cannot encrypt a registry secret".into()))?;
        Ok((nonce.to_vec(), sealed))
    }

    /// Opens a sealed value; `None` when it does not authenticate (wrong key, other
    /// associated data, or tampered bytes).
    pub fn open(&self, aad: &[u8], nonce: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if nonce.len() != NONCE_LEN {
            return None;
        }
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
            .ok()
            .map(Zeroizing::new)
    }
}

/// Creates a new key file atomically: a private temporary file hard-linked to `path` (which
/// fails if another process created the key meanwhile: its key is kept).
fn create(path: &Path) -> Result<(), RegistryError> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let created_dir = !dir.exists();
    if created_dir {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| key_err(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(&mut bytes[..])
        .map_err(|_| RegistryError::Io("the OS random generator failed".into()))?;
    let text = Zeroizing::new(format!("{}\n", xnonce_core::hex::encode(&bytes[..])));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".{KEY_FILE_NAME}.{}.{nanos}.tmp",
        std::process::id()
    ));
    let write = || -> io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        crate::ownership::give_to_folder_owner(&f, path);
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        match fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    };
    let result = write();
    let _ = fs::remove_file(&tmp);
    result.map_err(|e| {
        key_err(format!(
            "cannot create the registry key {}: {e}",
            path.display()
        ))
    })?;
    // The key's link (and, when just made, its folder's entry) synced before the registry is
    // sealed under it: a power loss must not keep a registry whose key file is gone.
    super::sync_dir_or_warn(&dir);
    if created_dir {
        super::sync_parent_or_warn(&dir);
    }
    tracing::info!(path = %path.display(), "created a new registry key");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "xnonce-key-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn created_private_and_reloaded_identically() {
        let base = tmp("create");
        let path = base.join("conf/xnonce/registry.key");
        let data = base.join("data");
        let k1 = RegistryKey::load_or_create(&path, &data).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let k2 = RegistryKey::load_or_create(&path, &data).unwrap();
        assert_eq!(k1.id(), k2.id());
        let (nonce, sealed) = k1.seal(b"aad", b"secret text").unwrap();
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_eq!(&**k2.open(b"aad", &nonce, &sealed).unwrap(), b"secret text");
        assert!(k2.open(b"other aad", &nonce, &sealed).is_none());
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(k2.open(b"aad", &nonce, &bad).is_none());
        let debug = format!("{k1:?}");
        assert!(
            debug.starts_with("RegistryKey {") && debug.contains(k1.id()),
            "{debug}"
        );
        assert!(!debug.contains(&fs::read_to_string(&path).unwrap()[..16]));
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn hex_decodes_to_the_bytes_it_spells() {
        let text = "00ff10a5C3".repeat(6) + "0123";
        let mut want = [0x00, 0xff, 0x10, 0xa5, 0xc3].repeat(6);
        want.extend([0x01, 0x23]);
        assert_eq!(&*decode_hex32(&text).unwrap(), &want[..]);
        assert_eq!(decode_hex(&text).unwrap(), want);
        assert_eq!(decode_hex("").unwrap(), Vec::<u8>::new());
        for bad in ["0", "0g", "+1", "é0"] {
            assert!(decode_hex(bad).is_none(), "{bad}");
        }
        assert!(decode_hex32(&text[..62]).is_none());
        assert!(decode_hex32(&(text[..62].to_string() + "zz")).is_none());
    }

    #[test]
    fn refused_when_others_can_read_it_or_inside_the_data_dir() {
        let base = tmp("refuse");
        let data = base.join("data");
        let path = base.join("k/registry.key");
        RegistryKey::load_or_create(&path, &data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let e = RegistryKey::load(&path, &data).unwrap_err().to_string();
        assert!(
            e.contains("chmod 600") && e.contains(&path.display().to_string()),
            "{e}"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(path.parent().unwrap(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = RegistryKey::load(&path, &data).unwrap_err().to_string();
        assert!(e.contains("chmod 700"), "{e}");
        fs::set_permissions(path.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(RegistryKey::load(&path, &data).is_ok());
        let inside = data.join("sub/../registry.key");
        let e = RegistryKey::load_or_create(&inside, &data)
            .unwrap_err()
            .to_string();
        assert!(e.contains("inside the data dir"), "{e}");
        assert!(!data.join("registry.key").exists());
        fs::write(base.join("k/short.key"), "abcd\n").unwrap();
        fs::set_permissions(base.join("k/short.key"), fs::Permissions::from_mode(0o600)).unwrap();
        let e = RegistryKey::load(&base.join("k/short.key"), &data)
            .unwrap_err()
            .to_string();
        assert!(e.contains("64 hex"), "{e}");
        fs::remove_dir_all(base).unwrap();
    }
}
