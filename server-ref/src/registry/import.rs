//! The list `client import` reads: clients with the secrets they already have, such as
//! em-secure-api's `clients` table (`mysql -N -B -e "SELECT name, shared_secret FROM
//! clients"` prints one `name<TAB>secret` line per client), written by
//! [`Registry::import`](super::Registry::import) all or none.
//!
//! One client per line: its name, then its secret, separated by spaces or tabs. Blank lines
//! and lines starting with `#` are skipped; a leading UTF-8 byte-order mark and Windows line
//! ends are fine. Errors name the line, never its text, since the line holds a secret.
//!
//! ```
//! use xnonce_server::registry::import;
//! let list = "# from em-secure-api\nbilling\t20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd\n";
//! let clients = import::parse(list).unwrap();
//! assert_eq!((clients[0].line, clients[0].name.as_str()), (2, "billing"));
//! assert!(import::parse("billing\n").unwrap_err().contains("line 1"));
//! ```

use std::collections::HashMap;

use xnonce_core::Secret;

/// One client of an import list (its `Debug` shows no secret).
#[derive(Debug)]
pub struct Imported {
    /// Its line in the list (from 1).
    pub line: usize,
    /// The client id.
    pub name: String,
    /// Its secret, as callers already sign with it.
    pub secret: Secret,
}

impl Imported {
    /// Whether its secret can sign v2 requests too: only 64 hex characters (32 bytes) can;
    /// any other text signs v1 (em-secure-api's own secrets are 64 hex characters).
    pub fn signs_v2(&self) -> bool {
        self.secret.v2_key().is_ok()
    }
}

/// Reads an import list. Refuses, naming the line (never its content), a line that is not
/// exactly a name and a secret, a name that is not a client id, a secret [`Secret::new`]
/// refuses, a name given twice, and a list without any client.
pub fn parse(text: &str) -> Result<Vec<Imported>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut clients: Vec<Imported> = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(name), Some(secret), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(format!(
                "line {line_no}: want a client name and its secret separated by spaces or a \
                 tab, and nothing else"
            ));
        };
        // A list written `secret name` imported a client named after the secret (printed,
        // listed, logged) holding the name as a v1-only secret: a secret's shape (64 hex
        // characters) in the name's place, and not in the secret's, is that mistake.
        if looks_like_v2_secret(name) && !looks_like_v2_secret(secret) {
            return Err(format!(
                "line {line_no}: the first field has a secret's shape (64 hex characters) and \
                 the second has not: write the client name first, then its secret"
            ));
        }
        xnonce_core::client_id::validate(name)
            .map_err(|e| format!("line {line_no}: invalid client name: {}", e.message()))?;
        let secret = Secret::new(secret).map_err(|e| format!("line {line_no}: {}", e.message()))?;
        if let Some(earlier) = first_line.insert(name.to_string(), line_no) {
            return Err(format!(
                "line {line_no}: client {name:?} is also on line {earlier}"
            ));
        }
        clients.push(Imported {
            line: line_no,
            name: name.to_string(),
            secret,
        });
    }
    if clients.is_empty() {
        return Err("no client in the list (one `name secret` line per client)".into());
    }
    Ok(clients)
}

/// 64 hex characters: the shape of a secret that signs both schemes (and of em-secure-api's).
fn looks_like_v2_secret(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

    #[test]
    fn reads_tabs_spaces_comments_blank_lines_bom_and_crlf() {
        let list = format!(
            "\u{feff}# exported\r\nbilling\t{HEX}\r\n\r\n  web   s3cr3t-Of-another-shape  \n"
        );
        let clients = parse(&list).unwrap();
        let got: Vec<(usize, &str, &str)> = clients
            .iter()
            .map(|c| (c.line, c.name.as_str(), c.secret.expose()))
            .collect();
        assert_eq!(
            got,
            [(2, "billing", HEX), (4, "web", "s3cr3t-Of-another-shape")]
        );
    }

    #[test]
    fn refusals_name_the_line_and_never_the_secret() {
        let secret = "NotShownAnywhere-91c";
        for (list, want) in [
            (
                format!("a {HEX}\nb\n"),
                "line 2: want a client name and its secret",
            ),
            (format!("a {secret} extra\n"), "line 1: want a client name"),
            (format!("a/b {secret}\n"), "line 1: invalid client name"),
            (
                format!("a {HEX}\n\na {secret}\n"),
                "line 3: client \"a\" is also on line 1",
            ),
            ("# nothing\n\n".to_string(), "no client in the list"),
            // Columns swapped: the secret would have become the client's name.
            (
                format!("{HEX}\tbilling\n"),
                "line 1: the first field has a secret's shape",
            ),
            (
                format!("a {secret}\u{7}\n"),
                "line 1: secret contains whitespace or control",
            ),
        ] {
            let e = parse(&list)
                .err()
                .unwrap_or_else(|| panic!("accepted {list:?}"));
            assert!(e.starts_with(want), "{list:?}: {e}");
            assert!(!e.contains(secret) && !e.contains(HEX), "{e}");
        }
    }
}
