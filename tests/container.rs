//! The container image. Its address comes from its config: the entrypoint
//! and the health check read the same `/etc/jitterd/jitterd.toml` (the
//! image's copy of `deploy/container/jitterd.toml`, listening on
//! `0.0.0.0:9977`), and both run here as the image would run them find each
//! other. Then a static release binary (`+crt-static`, its own target
//! directory under `target/static` so it never touches the normal build) and
//! that config go into the `FROM scratch` image of
//! `deploy/container/Containerfile`, built with `podman build` into a
//! throw-away storage (vfs, no network; the image needs nothing pulled).
//! Running containers is not possible here, so the test checks the build,
//! the image's configuration and the files in it, not a run. Also checks
//! that `compose.yaml` parses and mounts files that exist.

use crate::common;
use crate::containerfile;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONTAINER_CONFIG: &str = "deploy/container/jitterd.toml";

const TARGET: &str = "x86_64-unknown-linux-gnu";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The daemon's default listen port, from the binary itself.
fn default_port() -> u16 {
    let (code, stdout, stderr) = common::run(&["print-default-config"], &[]);
    assert_eq!(code, 0, "print-default-config: {stderr}");
    let config: toml::Table = stdout.parse().expect("default config is TOML");
    let listen = config["web"]["listen_address"].as_str().expect("listen_address");
    listen.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).expect("port")
}

/// `jitterd check-config` on the file at `path`: the effective config, which must be valid.
fn effective_config(path: &str) -> toml::Table {
    let file = repo(path);
    let (code, stdout, stderr) = common::run(&["check-config", "--config.file", file.to_str().expect("path")], &[]);
    assert_eq!(code, 0, "jitterd check-config rejects {path}:\n{stderr}");
    stdout.parse().expect("check-config prints TOML")
}

fn podman_present() -> bool {
    Command::new("podman").arg("--version").output().is_ok_and(|out| out.status.success())
}

/// Builds the static binary and returns its path.
fn build_static_binary() -> PathBuf {
    let target_dir = repo("target/static");
    let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["build", "--release", "--locked", "--target", TARGET])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo build");
    assert!(status.success(), "static build failed");
    target_dir.join(TARGET).join("release/jitterd")
}

/// Whether an ELF file asks for a dynamic loader (has a PT_INTERP header).
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    assert_eq!(&elf[..5], b"\x7fELF\x02", "not a 64-bit ELF");
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("e_phoff")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(elf[at..at + 4].try_into().expect("p_type")) == 3
    })
}

#[test]
fn containerfile_builds_with_podman() {
    // It compiles jitterd again on both cores: no timing test beside it.
    let _alone = crate::common::alone();
    if !podman_present() {
        crate::common::not_tested("podman is not installed (scripts/test installs it)");
        return;
    }
    let binary = build_static_binary();
    let elf = std::fs::read(&binary).expect("static binary");
    assert!(!has_interpreter(&elf), "{} is dynamically linked", binary.display());
    let version = Command::new(&binary).arg("--version").output().expect("run static binary");
    assert!(version.status.success(), "static binary does not run: {version:?}");

    // The build context holds the binary alone; the storage is ours alone.
    let work = tempfile::tempdir_in(repo("target")).expect("tempdir");
    let context = work.path().join("context");
    std::fs::create_dir(&context).expect("context dir");
    std::fs::copy(&binary, context.join("jitterd")).expect("copy binary");
    let storage = work.path().join("storage");
    // Success and stdout, or failure and everything podman said.
    let try_podman = |args: &[&str]| {
        let out = Command::new("podman")
            .arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(args)
            .env("TMPDIR", work.path())
            .output()
            .expect("podman");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        match out.status.success() {
            true => Ok(stdout),
            false => Err(stdout + &String::from_utf8_lossy(&out.stderr)),
        }
    };
    let podman = |args: &[&str]| try_podman(args).unwrap_or_else(|text| panic!("podman {args:?} failed:\n{text}"));
    let containerfile = repo(containerfile::CONTAINERFILE);
    let containerfile = containerfile.to_str().expect("path");
    let context = context.to_str().expect("path");
    let config_context = format!("config={}", repo("deploy/container").display());
    podman(&[
        "build",
        "--format",
        "docker",
        "--network",
        "none",
        "-t",
        "localhost/jitterd:test",
        "--build-context",
        &config_context,
        "-f",
        containerfile,
        context,
    ]);

    // The image is configured as the Containerfile says.
    let inspect: serde_json::Value =
        serde_json::from_str(&podman(&["image", "inspect", "localhost/jitterd:test"])).expect("inspect json");
    let config = &inspect[0]["Config"];
    assert_eq!(config["User"], serde_json::json!(containerfile::last("USER")));
    let port = containerfile::last("EXPOSE");
    assert!(config["ExposedPorts"].get(format!("{port}/tcp")).is_some(), "{config}");
    let entrypoint = containerfile::exec_form("ENTRYPOINT");
    assert_eq!(config["Entrypoint"], serde_json::json!(entrypoint));
    let mut healthcheck = vec!["CMD".to_owned()];
    healthcheck.extend(containerfile::exec_form("HEALTHCHECK"));
    assert_eq!(inspect[0]["Healthcheck"]["Test"], serde_json::json!(healthcheck));

    // The image holds the shipped config where both read it, and its own
    // binary finds the address there.
    let root = match try_podman(&["image", "mount", "localhost/jitterd:test"]) {
        Ok(root) => root,
        Err(text) => {
            crate::common::not_tested(&format!("the image's files: podman image mount failed (it needs root): {text}"));
            return;
        }
    };
    let root = Path::new(root.trim());
    let config_path = containerfile::config_path(&entrypoint);
    let in_image = root.join(config_path.trim_start_matches('/'));
    let shipped = std::fs::read_to_string(repo(CONTAINER_CONFIG)).expect("container config");
    assert_eq!(
        std::fs::read_to_string(&in_image).ok().as_deref(),
        Some(shipped.as_str()),
        "{config_path} in the image"
    );
    let out = Command::new(root.join(entrypoint[0].trim_start_matches('/')))
        .args(["check-config", "--config.file"])
        .arg(&in_image)
        .output()
        .expect("the image's binary");
    let effective = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check-config in the image: {}", String::from_utf8_lossy(&out.stderr));
    assert!(effective.contains(&format!("listen_address = \"0.0.0.0:{port}\"")), "{effective}");
    podman(&["image", "unmount", "localhost/jitterd:test"]);
}

#[test]
fn compose_file_parses_and_mounts_what_exists() {
    let text = std::fs::read_to_string(repo("deploy/container/compose.yaml")).expect("compose.yaml");
    let compose: serde_norway::Value = serde_norway::from_str(&text).expect("compose.yaml parses");
    for service in ["jitterd", "prometheus", "grafana"] {
        assert!(compose["services"][service].is_mapping(), "no service {service}");
    }
    let base = repo("deploy/container");
    for service in compose["services"].as_mapping().expect("services").values() {
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let source = volume.as_str().expect("short volume syntax").split(':').next().unwrap_or_default();
            if source.starts_with('.') {
                assert!(base.join(source).exists(), "compose mounts {source}, which does not exist");
            }
        }
    }
}

#[test]
fn image_takes_its_address_from_its_config_and_its_health_check_reads_the_same_file() {
    // It runs a jitterd of its own (async, counter flat out): it takes turns.
    let _alone = crate::common::alone();
    let default_port = default_port();
    let entrypoint = containerfile::exec_form("ENTRYPOINT");
    let healthcheck = containerfile::exec_form("HEALTHCHECK");
    for words in [&entrypoint, &healthcheck] {
        assert!(
            !words.iter().any(|word| word.starts_with("--web.listen-address")),
            "the address comes from the config, not a flag: {words:?}"
        );
    }
    assert_eq!(healthcheck.get(1).map(String::as_str), Some("healthcheck"), "{healthcheck:?}");
    let config_path = containerfile::config_path(&entrypoint);
    assert_eq!(containerfile::config_path(&healthcheck), config_path, "entrypoint and health check read one file");
    // The image holds the shipped container config at that path.
    let copies_it = containerfile::instructions()
        .iter()
        .any(|(instruction, rest)| instruction == "COPY" && rest.ends_with(&format!("jitterd.toml {config_path}")));
    assert!(copies_it, "the Containerfile copies {CONTAINER_CONFIG} to {config_path}");
    let effective = effective_config(CONTAINER_CONFIG);
    assert_eq!(
        effective["web"]["listen_address"].as_str(),
        Some(format!("0.0.0.0:{default_port}").as_str()),
        "{CONTAINER_CONFIG} listens on every interface at the port the image exposes"
    );
    assert_eq!(containerfile::last("EXPOSE"), default_port.to_string());

    // Run both commands as the image would, with the repository's file at the
    // image's path. The port is a free one (overridden in the environment,
    // the config's top layer but for flags), so that the test does not need
    // 9977: the health check finds the daemon only by reading the same layers.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let address = format!("127.0.0.1:{port}");
    let env = [("JITTERD__WEB__LISTEN_ADDRESS", address.as_str())];
    let config_file = repo(CONTAINER_CONFIG);
    let as_here = |words: &[String]| -> Vec<String> {
        words[1..].iter().map(|w| w.replace(&config_path, config_file.to_str().expect("path"))).collect()
    };
    let mut daemon = Command::new(common::BIN)
        .args(as_here(&entrypoint))
        .env("JITTERD__WEB__LISTEN_ADDRESS", &address)
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jitterd as the entrypoint does");
    let check: Vec<String> = as_here(&healthcheck);
    let check: Vec<&str> = check.iter().map(String::as_str).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let outcome = loop {
        let (code, stdout, stderr) = common::run(&check, &env);
        if code == 0 || Instant::now() > deadline {
            break (code, stdout, stderr);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(outcome.0, 0, "the image's health check never found its daemon: {}{}", outcome.1, outcome.2);
}
