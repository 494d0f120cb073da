//! TLS and basic auth come from a web config file in the exporter-toolkit
//! format: credentials are asked for everywhere but `/-/healthy`, the
//! healthcheck trusts only the configured certificate, a client that never
//! starts the handshake is disconnected, and a bad file exits 78 naming the key.

use std::path::Path;
use std::time::Duration;

use crate::common::{self, Daemon, Start};

use super::{config, raw};

struct Secrets {
    dir: tempfile::TempDir,
    cert_pem: String,
}

impl Secrets {
    /// A self-signed certificate for localhost and 127.0.0.1, with its key.
    fn new() -> Secrets {
        let dir = tempfile::tempdir().expect("tempdir");
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("rcgen");
        let cert_pem = certified.cert.pem();
        std::fs::write(dir.path().join("server.crt"), &cert_pem).expect("write");
        std::fs::write(dir.path().join("server.key"), certified.signing_key.serialize_pem()).expect("write");
        Secrets { dir, cert_pem }
    }

    fn web_config(&self, text: &str) -> String {
        let path = self.dir.path().join("web.yml");
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("path").to_owned()
    }
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt")
}

fn start_with_web_config(web_config: &str) -> Daemon {
    Daemon::start_with(Start {
        config: &common::config("async", "100ms"),
        args: &["--web.config.file", web_config],
        ..Start::default()
    })
}

#[test]
fn tls_and_basic_auth_from_the_web_config_file() {
    let _alone = crate::common::alone();
    let secrets = Secrets::new();
    let web = secrets.web_config(&format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: {}\n",
        bcrypt_hash("s3cret")
    ));
    let daemon = start_with_web_config(&web);
    assert_eq!(daemon.log_field("jitterd started", "tls").as_deref(), Some("true"));
    let get = |path: &str, auth: Option<&str>| common::https_get(&daemon.addr, path, auth, &secrets.cert_pem);

    let (status, response) = get("/metrics", None);
    assert_eq!(status, 401, "{response}");
    assert!(response.to_ascii_lowercase().contains("www-authenticate: basic realm=\"jitterd\""), "{response}");
    assert_eq!(get("/metrics", Some(&common::basic_auth("prometheus", "wrong"))).0, 401);
    assert_eq!(get("/metrics", Some(&common::basic_auth("nobody", "s3cret"))).0, 401);
    assert_eq!(get("/metrics", Some("Bearer s3cret")).0, 401);
    let (status, body) = get("/metrics", Some(&common::basic_auth("prometheus", "s3cret")));
    assert_eq!(status, 200);
    assert!(body.contains("jitterd_heartbeats_total"));
    assert_eq!(get("/", None).0, 401, "the landing page needs credentials too");
    assert_eq!(get("/-/ready", None).0, 401);
    assert_eq!(get("/-/healthy", None).0, 200, "health stays open for probes");

    // Plain HTTP on the TLS port gets nothing.
    let (status, _) = daemon.get("/-/healthy");
    assert_ne!(status, 200);

    // The healthcheck speaks TLS with the same web config file...
    let (code, stdout, stderr) =
        common::run(&["--web.listen-address", &daemon.addr, "--web.config.file", &web, "healthcheck"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("https://"), "{stdout}");
    // ...and trusts only that certificate.
    let other = Secrets::new();
    let other_web = other.web_config("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
    let (code, _, stderr) =
        common::run(&["--web.listen-address", &daemon.addr, "--web.config.file", &other_web, "healthcheck"], &[]);
    assert_eq!(code, 1, "a different certificate must not pass: {stderr}");
    assert!(stderr.contains("not the one in the web config file"), "{stderr}");
}

#[test]
fn a_silent_tls_client_cannot_hold_a_slot() {
    let _alone = crate::common::alone();
    let secrets = Secrets::new();
    let web = secrets.web_config("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
    let daemon = Daemon::start_with(Start {
        config: &config("read_header_timeout = \"500ms\"\n"),
        args: &["--web.config.file", &web],
        ..Start::default()
    });
    let (_, closed) = raw(&daemon.addr, b"", Duration::from_secs(5));
    let closed = closed.expect("a client that never starts the handshake is disconnected");
    assert!(closed < Duration::from_secs(2), "closed after {closed:?}");
}

#[test]
fn basic_auth_without_tls() {
    let _alone = crate::common::alone();
    let secrets = Secrets::new();
    let web = secrets.web_config(&format!("basic_auth_users:\n  alice: {}\n", bcrypt_hash("pw")));
    let daemon = start_with_web_config(&web);
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let status = |auth: Option<String>| {
        let mut request = agent.get(daemon.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.call().map(|r| r.status().as_u16()).unwrap_or(0)
    };
    assert_eq!(status(None), 401);
    assert_eq!(status(Some(common::basic_auth("alice", "nope"))), 401);
    assert_eq!(status(Some(common::basic_auth("alice", "pw"))), 200);
    assert_eq!(status(Some(common::basic_auth("alice", "pw"))), 200, "a remembered password still passes");
    assert_eq!(daemon.get("/-/healthy").0, 200);
    let (code, _, stderr) =
        common::run(&["--web.listen-address", &daemon.addr, "--web.config.file", &web, "healthcheck"], &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_web_config_files_exit_78_naming_the_key() {
    let secrets = Secrets::new();
    let hash = bcrypt_hash("pw");
    let wrong_key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    std::fs::write(secrets.dir.path().join("other.key"), wrong_key).expect("write");
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("unknown top-level key", "tls_config:\n  cert_file: x\n".into(), &["tls_config", "tls_server_config"]),
        ("unknown TLS key", "tls_server_config:\n  cert: x\n".into(), &["cert", "cert_file"]),
        ("missing key_file", "tls_server_config:\n  cert_file: server.crt\n".into(), &["tls_server_config.key_file", "required"]),
        (
            "missing cert file",
            "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n".into(),
            &["tls_server_config.cert_file", "nope.crt"],
        ),
        (
            "cert file is not PEM",
            "tls_server_config:\n  cert_file: web.yml\n  key_file: server.key\n".into(),
            &["tls_server_config.cert_file"],
        ),
        (
            "key does not match",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n".into(),
            &["tls_server_config.key_file"],
        ),
        (
            "old TLS version",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS10\n".into(),
            &["tls_server_config.min_version", "TLS10", "TLS12"],
        ),
        (
            "client auth without CA",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n"
                .into(),
            &["tls_server_config.client_ca_file"],
        ),
        (
            "unknown client auth type",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: Maybe\n".into(),
            &["tls_server_config.client_auth_type", "Maybe"],
        ),
        ("plain-text password", "basic_auth_users:\n  alice: hunter2\n".into(), &["basic_auth_users.alice", "bcrypt"]),
        ("colon in user", format!("basic_auth_users:\n  \"a:b\": {hash}\n"), &["basic_auth_users.a:b"]),
        ("users as a list", "basic_auth_users:\n  - alice\n".into(), &["basic_auth_users"]),
        ("YAML syntax", "tls_server_config: [\n".into(), &["web.yml"]),
    ];
    for (what, text, needles) in cases {
        let web = secrets.web_config(&text);
        let (code, _, stderr) = common::run(&["--web.config.file", &web, "check-config"], &[]);
        assert_eq!(code, 78, "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{what}: stderr lacks {needle:?}: {stderr}");
        }
    }
    // The daemon refuses it too, before serving; so does a missing file.
    let web = secrets.web_config("tls_server_config:\n  cert: x\n");
    let (code, _, stderr) = common::run(&["--web.config.file", &web, "--web.listen-address", "127.0.0.1:0"], &[]);
    assert_eq!(code, 78, "{stderr}");
    let missing = secrets.dir.path().join("missing.yml");
    let missing = missing.to_str().expect("path");
    let (code, _, stderr) = common::run(&["--web.config.file", missing, "check-config"], &[]);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("missing.yml"), "{stderr}");
    let dir = Path::new(missing).parent().expect("dir").to_str().expect("path");
    let (code, _, _) = common::run(&["--web.config.file", dir, "check-config"], &[]);
    assert_eq!(code, 78);
}
