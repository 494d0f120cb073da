//! The web config file (`--web.config.file`): TLS and basic auth for the
//! HTTP side, in the YAML format of the Prometheus exporter toolkit, so the
//! file an operator already writes for node_exporter works here.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt        # PEM; relative paths are relative to this file
//!   key_file: server.key
//!   # client_ca_file: ca.crt     # with client_auth_type RequireAndVerifyClientCert
//!   # min_version: TLS12         # TLS12 (default) or TLS13
//! basic_auth_users:
//!   prometheus: $2y$10$...       # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Everything is checked at start (exit 78 naming the key); the file is read
//! once, so a new certificate takes a restart. `/-/healthy` stays open without
//! credentials (it tells no more than an open port does), so health checks
//! need no password; every other path needs them when users are configured.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rustls::SupportedProtocolVersion;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::sys::files::{ReadError, read_bounded};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca_file: Option<String>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
}

/// What the web config file asks for, ready to use.
#[derive(Clone, Default)]
pub(crate) struct WebSecurity {
    /// Serve HTTPS with this.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The server's own certificate, which `jitterd healthcheck` trusts.
    pub certificate: Option<CertificateDer<'static>>,
    /// Require one of these users on every path but `/-/healthy`.
    pub auth: Option<Arc<BasicAuth>>,
}

impl WebSecurity {
    /// No file: plain HTTP, no auth.
    pub(crate) fn load(path: Option<&Path>) -> Result<WebSecurity, ConfigError> {
        let Some(path) = path else { return Ok(WebSecurity::default()) };
        let fail = |key: Option<&str>, message: String| ConfigError {
            key: key.map(str::to_owned),
            origin: Some(path.display().to_string()),
            message,
        };
        let bytes = read_bounded(path, crate::config::MAX_CONFIG_FILE_BYTES).map_err(|err| match err {
            ReadError::Io(err) => fail(None, format!("cannot read web config file: {err}")),
            ReadError::NotAFile(_) | ReadError::TooLarge(_) => {
                fail(None, "is not a regular file of at most 1 MiB; --web.config.file takes a YAML file".into())
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|err| {
            fail(None, format!("is not UTF-8 text (invalid byte at offset {})", err.utf8_error().valid_up_to()))
        })?;
        // An empty file asks for nothing, as with the exporter toolkit.
        if text.trim().is_empty() {
            return Ok(WebSecurity::default());
        }
        let raw: RawFile = serde_norway::from_str(&text).map_err(|err| {
            fail(
                None,
                format!(
                    "{err}; expected the exporter-toolkit format: tls_server_config (cert_file, key_file, client_ca_file, client_auth_type, min_version) and basic_auth_users"
                ),
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut security = WebSecurity::default();
        if let Some(tls) = raw.tls_server_config {
            let (config, certificate) = tls_config(&tls, base).map_err(|(key, message)| fail(Some(&key), message))?;
            security.tls = Some(Arc::new(config));
            security.certificate = Some(certificate);
        }
        if let Some(users) = raw.basic_auth_users.filter(|users| !users.is_empty()) {
            for (user, hash) in &users {
                let key = format!("basic_auth_users.{user}");
                if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
                    return Err(fail(
                        Some(&key),
                        "a user name must be non-empty, without ':' or control characters".into(),
                    ));
                }
                hash.parse::<bcrypt::HashParts>().map_err(|err| {
                    fail(
                        Some(&key),
                        format!("is not a bcrypt hash ({err}); make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"),
                    )
                })?;
            }
            security.auth = Some(Arc::new(BasicAuth::new(users)));
        }
        Ok(security)
    }
}

fn resolve(base: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

/// The `tls_server_config` key to blame and what is wrong with it.
type KeyError = (String, String);

fn key_error(key: &str, message: String) -> KeyError {
    (format!("tls_server_config.{key}"), message)
}

/// The server's TLS config and its own certificate: `cert_file` and
/// `key_file`, the protocol versions, the client certificate check.
fn tls_config(raw: &RawTls, base: &Path) -> Result<(rustls::ServerConfig, CertificateDer<'static>), KeyError> {
    let cert_path = required_file(base, "cert_file", raw.cert_file.as_deref())?;
    let key_path = required_file(base, "key_file", raw.key_file.as_deref())?;
    let certs = read_certificates("cert_file", &cert_path)?;
    let Some(first) = certs.first().cloned() else {
        return Err(key_error("cert_file", format!("{} holds no PEM certificate", cert_path.display())));
    };
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
        key_error("key_file", format!("cannot read a PEM private key from {}: {e}", key_path.display()))
    })?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(protocol_versions(raw.min_version.as_deref())?)
        .map_err(|e| key_error("min_version", e.to_string()))?;
    let builder = match client_verifier(raw, base, provider)? {
        None => builder.with_no_client_auth(),
        Some(verifier) => builder.with_client_cert_verifier(verifier),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| key_error("key_file", format!("does not fit the certificate in cert_file or is unusable: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, first))
}

/// A file the TLS config cannot do without, relative to the web config file.
fn required_file(base: &Path, key: &str, value: Option<&str>) -> Result<PathBuf, KeyError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| resolve(base, v))
        .ok_or_else(|| key_error(key, "is required for TLS".into()))
}

/// Every PEM certificate in `path`, which `key` names.
fn read_certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, KeyError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| key_error(key, format!("cannot read PEM certificates from {}: {e}", path.display())))
}

/// `min_version`: TLS 1.2 and 1.3 by default, or 1.3 alone.
fn protocol_versions(min_version: Option<&str>) -> Result<&'static [&'static SupportedProtocolVersion], KeyError> {
    static FROM_TLS12: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];
    static FROM_TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min_version {
        None | Some("TLS12") => Ok(&FROM_TLS12),
        Some("TLS13") => Ok(&FROM_TLS13),
        Some(other) => Err(key_error("min_version", format!("{other:?} is not supported: expected TLS12 or TLS13"))),
    }
}

/// The client certificate check `client_auth_type` asks for, against the
/// CAs in `client_ca_file`; `None` for none (`NoClientCert`, the default).
fn client_verifier(
    raw: &RawTls,
    base: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, KeyError> {
    let optional = match raw.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => return Ok(None),
        "RequireAndVerifyClientCert" => false,
        "VerifyClientCertIfGiven" => true,
        other => {
            return Err(key_error(
                "client_auth_type",
                format!(
                    "{other:?} is not supported: expected NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            ));
        }
    };
    let ca_path = required_file(base, "client_ca_file", raw.client_ca_file.as_deref())?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(read_certificates("client_ca_file", &ca_path)?);
    if added == 0 {
        return Err(key_error("client_ca_file", format!("{} holds no usable CA certificate", ca_path.display())));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let verifier = if optional { verifier.allow_unauthenticated() } else { verifier };
    verifier.build().map(Some).map_err(|e| key_error("client_ca_file", e.to_string()))
}

/// Checks basic-auth credentials against bcrypt hashes. bcrypt is slow on
/// purpose (tens of milliseconds), so credentials that passed are
/// remembered: a scrape every few seconds costs one check, not one each.
/// How often checks may run is up to the caller (`crate::http`).
pub(crate) struct BasicAuth {
    users: BTreeMap<String, String>,
    passed: Mutex<HashSet<String>>,
}

/// Credentials remembered at most; beyond that the memory starts afresh.
const REMEMBERED: usize = 64;

impl BasicAuth {
    pub(crate) fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth { users, passed: Mutex::new(HashSet::new()) }
    }

    /// Whether these credentials (`user:password`, see [`credentials`])
    /// passed before. Cheap: no bcrypt.
    pub(crate) fn remembered(&self, credentials: &str) -> bool {
        self.passed.lock().is_ok_and(|passed| passed.contains(credentials))
    }

    /// Whether these credentials name a user with the right password; they
    /// are remembered if so. Blocking (bcrypt): call it off the async runtime.
    pub(crate) fn verify(&self, credentials: &str) -> bool {
        if self.remembered(credentials) {
            return true;
        }
        let Some((user, password)) = credentials.split_once(':') else { return false };
        let ok = match self.users.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                // Take as long for an unknown user as for a wrong password,
                // so timing does not tell which users exist.
                if let Some(hash) = self.users.values().next() {
                    let _ = bcrypt::verify(password, hash);
                }
                false
            }
        };
        if ok && let Ok(mut passed) = self.passed.lock() {
            if passed.len() >= REMEMBERED {
                passed.clear();
            }
            passed.insert(credentials.to_owned());
        }
        ok
    }
}

/// The credentials of an `Authorization` header: `Basic dXNlcjpwYXNz` →
/// `user:pass`; `None` for another scheme or a malformed value.
pub(crate) fn credentials(header: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(header).ok()?;
    let (scheme, value) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth() {
        let hash = bcrypt::hash("secret", 4).expect("hash");
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_owned(), hash)]));
        let header = |user_pass: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass));
        assert_eq!(credentials(header("alice:secret").as_bytes()).as_deref(), Some("alice:secret"));
        assert_eq!(credentials(b"basic  YTpi ").as_deref(), Some("a:b"));
        assert_eq!(credentials(b"Bearer abc"), None);
        assert_eq!(credentials(b"Basic !!!"), None);
        assert!(!auth.remembered("alice:secret"));
        assert!(auth.verify("alice:secret"));
        assert!(auth.remembered("alice:secret"), "remembered once it passed");
        assert!(!auth.verify("alice:wrong") && !auth.remembered("alice:wrong"));
        assert!(!auth.verify("bob:secret"));
        assert!(!auth.verify("no colon"));
    }

    #[test]
    fn no_file_and_empty_file_ask_for_nothing() {
        assert!(WebSecurity::load(None).is_ok_and(|s| s.tls.is_none() && s.auth.is_none()));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "\n").expect("write");
        assert!(WebSecurity::load(Some(&path)).is_ok_and(|s| s.tls.is_none() && s.auth.is_none()));
    }
}
