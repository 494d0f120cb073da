//! The container image: a static release binary (`+crt-static`, its own
//! target directory under `target/static` so it never touches the normal
//! build) goes into the `FROM scratch` image of `deploy/container/Containerfile`,
//! built with `podman build` into a throw-away storage (vfs, no network; the
//! image needs nothing pulled). Running containers is not possible here, so
//! the test checks the build and the image's configuration, not a run. Also
//! checks that `compose.yaml` parses and mounts files that exist.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "x86_64-unknown-linux-gnu";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
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
    if !podman_present() {
        println!("skipped: podman is not installed (scripts/test installs it)");
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
    let podman = |args: &[&str]| {
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
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "podman {args:?} failed:\n{text}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let containerfile = repo("deploy/container/Containerfile");
    let containerfile = containerfile.to_str().expect("path");
    let context = context.to_str().expect("path");
    podman(&[
        "build",
        "--format",
        "docker",
        "--network",
        "none",
        "-t",
        "localhost/jitterd:test",
        "-f",
        containerfile,
        context,
    ]);

    let inspect: serde_json::Value =
        serde_json::from_str(&podman(&["image", "inspect", "localhost/jitterd:test"])).expect("inspect json");
    let config = &inspect[0]["Config"];
    assert_eq!(config["User"], "65534:65534");
    assert!(config["ExposedPorts"].get("9977/tcp").is_some(), "{config}");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/jitterd", "--web.listen-address", "0.0.0.0:9977"]));
    assert_eq!(
        inspect[0]["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/jitterd", "healthcheck", "--web.listen-address", "127.0.0.1:9977"])
    );
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
