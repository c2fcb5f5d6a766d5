//! The vector file format (DESIGN §2) and loading of every file, including the
//! `XNONCE_EXTRA_VECTORS` hook (DESIGN §3).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One case of a vector file. v1 cases carry no `scheme`; v2 cases say `"v2"`.
///
/// A field not named here fails the file: a misspelt expected field (`ottokn`) would
/// otherwise leave that output unchecked while the case counts as passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// Stable case name.
    pub id: String,
    /// `"v1"` (default when absent) or `"v2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Method as given.
    pub method: String,
    /// Path as given.
    pub path: String,
    /// Ordered pairs.
    pub params: Vec<(String, String)>,
    /// Client id.
    pub client: String,
    /// Secret text.
    pub secret: String,
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// v2: authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// v2: body, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// v2: 32 hex nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Base URL for `link` (when present, the case is also run through link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Expected canonical string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical: Option<String>,
    /// Expected header value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_nonce: Option<String>,
    /// Expected ottoken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ottoken: Option<String>,
    /// Expected ottoken as written in a query (v1 vectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ottoken_query_value: Option<String>,
    /// Expected full link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Expected error code: signing (or linking, when `base_url` is set) must fail with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The folder holding the project's vector files.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Every `*.json` in `dir` (sorted) plus every path in `XNONCE_EXTRA_VECTORS` (`:`-separated).
pub fn vector_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if let Ok(extra) = std::env::var("XNONCE_EXTRA_VECTORS") {
        files.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    Ok(files)
}

/// The expected outputs a case may carry; an `error` case carries none of them.
pub const OUTPUTS: [&str; 5] = [
    "canonical",
    "x_nonce",
    "ottoken",
    "ottoken_query_value",
    "link",
];

/// Why a case (as JSON) is not a well-formed case, beyond what [`Vector`]'s types refuse:
/// a `null` field (no field of the format is nullable: leave it out), or an `error` case
/// that also carries expected outputs (a failing call has none, so they would go unchecked).
fn shape_problem(case: &serde_json::Value) -> Option<String> {
    let obj = case.as_object()?;
    if let Some((name, _)) = obj.iter().find(|(_, v)| v.is_null()) {
        return Some(format!(
            "field `{name}` is null (no field may be null: leave it out)"
        ));
    }
    if obj.contains_key("error") {
        let outputs: Vec<&str> = OUTPUTS
            .into_iter()
            .filter(|f| obj.contains_key(*f))
            .collect();
        if !outputs.is_empty() {
            return Some(format!(
                "error case also carries outputs {outputs:?} (an error case has none: they would go unchecked)"
            ));
        }
    }
    None
}

/// Loads one file. A case that does not fit the format (a field not named in [`Vector`], a
/// missing, mistyped or `null` one, or an `error` case that also carries expected outputs)
/// fails the file, naming the case by its `id` (else its index).
pub fn load(path: &Path) -> Result<Vec<Vector>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    cases
        .into_iter()
        .enumerate()
        .map(|(i, case)| {
            let id = match case.get("id").and_then(serde_json::Value::as_str) {
                Some(id) => id.to_owned(),
                None => format!("#{i}"),
            };
            if let Some(why) = shape_problem(&case) {
                return Err(format!("{}: case {id}: {why}", path.display()));
            }
            serde_json::from_value(case).map_err(|e| format!("{}: case {id}: {e}", path.display()))
        })
        .collect()
}
