//! The Kubernetes manifests in `deploy/kubernetes/` against the rule file,
//! the Containerfile and the real daemon: every manifest parses and is listed
//! in the kustomization; the PrometheusRule carries exactly the rule file's
//! groups; the DaemonSet is non-root with a read-only root filesystem, probes
//! `/-/healthy` and `/-/ready` on the daemon's default port, mounts a
//! ConfigMap config that `jitterd check-config` accepts, and runs the image as
//! the Containerfile builds it; Service and ServiceMonitor reach that port and
//! the telemetry path.

mod common;

use std::path::{Path, PathBuf};

use serde_norway::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|err| panic!("{path} is not YAML: {err}"))
}

/// The string at `key` of a YAML mapping, or a panic naming what is missing.
fn text<'a>(value: &'a Value, key: &str, what: &str) -> &'a str {
    value[key].as_str().unwrap_or_else(|| panic!("{what}: no string {key:?} in {value:?}"))
}

/// The daemon's default listen port and telemetry path, from the binary itself.
fn defaults() -> (u16, String) {
    let (code, stdout, stderr) = common::run(&["print-default-config"], &[]);
    assert_eq!(code, 0, "print-default-config: {stderr}");
    let config: toml::Table = stdout.parse().expect("default config is TOML");
    let web = config["web"].as_table().expect("[web]");
    let listen = web["listen_address"].as_str().expect("listen_address");
    let port = listen.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).expect("port");
    (port, web["telemetry_path"].as_str().expect("telemetry_path").to_owned())
}

/// `jitterd check-config` on `config`: the effective config, which must be valid.
fn effective_config(config: &str) -> toml::Table {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jitterd.toml");
    std::fs::write(&path, config).expect("write config");
    let path = path.to_str().expect("utf-8 path");
    let (code, stdout, stderr) = common::run(&["check-config", "--config.file", path], &[]);
    assert_eq!(code, 0, "jitterd check-config rejects the config:\n{config}\n{stderr}");
    stdout.parse().expect("check-config prints TOML")
}

// ---------------------------------------------------------------- Kubernetes

const KUBERNETES: &str = "deploy/kubernetes";

/// Every manifest of `deploy/kubernetes` (one object per file), by kind.
fn manifests() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo(KUBERNETES))
        .expect("deploy/kubernetes")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).expect("file name").to_owned();
            let value = yaml(&format!("{KUBERNETES}/{name}"));
            (name, value)
        })
        .collect()
}

fn object<'a>(manifests: &'a [(String, Value)], kind: &str) -> &'a Value {
    let mut found = manifests.iter().filter(|(_, value)| value["kind"].as_str() == Some(kind));
    let (_, value) = found.next().unwrap_or_else(|| panic!("no {kind} in {KUBERNETES}"));
    assert!(found.next().is_none(), "more than one {kind} in {KUBERNETES}");
    value
}

#[test]
fn kubernetes_manifests_parse_and_kustomization_lists_them_all() {
    let manifests = manifests();
    let mut kinds: Vec<&str> = Vec::new();
    for (name, value) in &manifests {
        let kind = text(value, "kind", name);
        if kind == "Kustomization" {
            continue;
        }
        kinds.push(kind);
        text(value, "apiVersion", name);
        let metadata = &value["metadata"];
        assert_eq!(metadata["name"].as_str(), Some("jitterd"), "{name}: metadata.name");
        if kind != "Namespace" {
            assert_eq!(metadata["namespace"].as_str(), Some("jitterd"), "{name}: metadata.namespace");
        }
    }
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["ConfigMap", "DaemonSet", "Namespace", "PrometheusRule", "Service", "ServiceMonitor"],
        "kinds in {KUBERNETES}"
    );
    let kustomization = object(&manifests, "Kustomization");
    let mut listed: Vec<&str> =
        kustomization["resources"].as_sequence().expect("resources").iter().filter_map(Value::as_str).collect();
    listed.sort_unstable();
    let mut files: Vec<&str> =
        manifests.iter().map(|(name, _)| name.as_str()).filter(|name| *name != "kustomization.yaml").collect();
    files.sort_unstable();
    assert_eq!(listed, files, "kustomization.yaml resources vs the files in {KUBERNETES}");
}

#[test]
fn prometheusrule_groups_equal_the_rule_file() {
    let rule_file = yaml("deploy/prometheus/jitterd.rules.yml");
    let manifests = manifests();
    let rule = object(&manifests, "PrometheusRule");
    assert_eq!(text(rule, "apiVersion", "PrometheusRule"), "monitoring.coreos.com/v1");
    assert!(rule_file["groups"].as_sequence().is_some_and(|groups| !groups.is_empty()), "no groups in the rule file");
    assert!(
        rule["spec"]["groups"] == rule_file["groups"],
        "deploy/kubernetes/prometheusrule.yaml spec.groups differ from deploy/prometheus/jitterd.rules.yml groups: \
         copy the rule file's groups under spec.groups, two spaces further in"
    );
}

#[test]
fn daemonset_is_locked_down_and_matches_the_daemon_defaults() {
    let (default_port, telemetry_path) = defaults();
    let manifests = manifests();
    let daemonset = object(&manifests, "DaemonSet");
    assert_eq!(text(daemonset, "apiVersion", "DaemonSet"), "apps/v1");
    let pod = &daemonset["spec"]["template"]["spec"];
    let selector = &daemonset["spec"]["selector"]["matchLabels"];
    let pod_labels = &daemonset["spec"]["template"]["metadata"]["labels"];
    for (key, value) in selector.as_mapping().expect("selector.matchLabels") {
        assert_eq!(&pod_labels[key.as_str().expect("label")], value, "the selector must match the pod labels");
    }
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false), "no API token in the pod");
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), Some(65534));
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"].as_str(), Some("RuntimeDefault"));
    assert!(pod["hostNetwork"].is_null() && pod["hostPID"].is_null(), "no host namespaces");

    let containers = pod["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(security["capabilities"]["drop"][0].as_str(), Some("ALL"));
    assert!(security["capabilities"]["add"].is_null(), "no capabilities added");

    // The port: the daemon's default, named so probes, Service and ServiceMonitor refer to it.
    let ports = container["ports"].as_sequence().expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["containerPort"].as_u64(), Some(u64::from(default_port)));
    let port_name = text(&ports[0], "name", "container port");
    for (probe, path) in [("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert!(
            get["port"].as_str() == Some(port_name) || get["port"].as_u64() == Some(u64::from(default_port)),
            "{probe} port {:?}",
            get["port"]
        );
    }

    // The config: the ConfigMap's file, mounted where --config.file points,
    // valid for the real daemon and listening on every interface at the default port.
    let args: Vec<&str> = container["args"].as_sequence().expect("args").iter().filter_map(Value::as_str).collect();
    let config_file = args
        .iter()
        .find_map(|arg| arg.strip_prefix("--config.file="))
        .unwrap_or_else(|| panic!("no --config.file=… in {args:?}"));
    let (dir, key) = config_file.rsplit_once('/').expect("absolute config path");
    let mount = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
        .iter()
        .find(|mount| mount["mountPath"].as_str() == Some(dir))
        .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
    assert_eq!(mount["readOnly"].as_bool(), Some(true));
    let volume = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|volume| volume["name"] == mount["name"])
        .expect("the mounted volume");
    let configmap = object(&manifests, "ConfigMap");
    assert_eq!(volume["configMap"]["name"], configmap["metadata"]["name"], "the volume is the ConfigMap");
    let config = configmap["data"][key].as_str().unwrap_or_else(|| panic!("ConfigMap has no {key}"));
    let effective = effective_config(config);
    let web = effective["web"].as_table().expect("[web]");
    assert_eq!(web["listen_address"].as_str(), Some(format!("0.0.0.0:{default_port}").as_str()));

    // Service and ServiceMonitor reach that port and the telemetry path.
    let service = object(&manifests, "Service");
    assert_eq!(service["spec"]["selector"], *selector, "the Service selects the DaemonSet's pods");
    assert_eq!(service["spec"]["publishNotReadyAddresses"].as_bool(), Some(true), "stalled pods must stay scraped");
    let service_port = &service["spec"]["ports"][0];
    assert!(
        service_port["targetPort"].as_str() == Some(port_name)
            || service_port["targetPort"].as_u64() == Some(u64::from(default_port))
    );
    let monitor = object(&manifests, "ServiceMonitor");
    let selects = &monitor["spec"]["selector"]["matchLabels"];
    for (key, value) in selects.as_mapping().expect("ServiceMonitor selector") {
        assert_eq!(&service["metadata"]["labels"][key.as_str().expect("label")], value, "ServiceMonitor selector");
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], service_port["name"], "ServiceMonitor endpoint port is the Service's port name");
    assert_eq!(endpoint["path"].as_str(), Some(telemetry_path.as_str()));
}

/// The Containerfile's instructions as (INSTRUCTION, arguments), continuation lines joined.
fn containerfile() -> Vec<(String, String)> {
    read("deploy/container/Containerfile")
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(char::is_whitespace))
        .map(|(instruction, rest)| (instruction.to_uppercase(), rest.trim().to_owned()))
        .collect()
}

#[test]
fn daemonset_runs_the_image_as_the_containerfile_builds_it() {
    let (default_port, _) = defaults();
    let instructions = containerfile();
    let last = |name: &str| {
        instructions
            .iter()
            .rev()
            .find(|(instruction, _)| instruction == name)
            .map(|(_, rest)| rest.as_str())
            .unwrap_or_else(|| panic!("Containerfile has no {name}"))
    };
    let manifests = manifests();
    let daemonset = object(&manifests, "DaemonSet");
    let pod = &daemonset["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    // The image's build command tags it so (see the Containerfile's header).
    let image = text(container, "image", "container");
    assert!(read("deploy/container/Containerfile").contains(&format!("-t {image}")), "image {image}");
    // The same non-root user, so the pod's runAsUser does not change whom the binary runs as.
    let (uid, gid) = last("USER").split_once(':').expect("USER uid:gid");
    assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), uid.parse().ok(), "runAsUser vs USER");
    assert_eq!(pod["securityContext"]["runAsGroup"].as_u64(), gid.parse().ok(), "runAsGroup vs USER");
    // The port the image exposes and listens on.
    assert_eq!(last("EXPOSE"), default_port.to_string());
    let entrypoint: Vec<String> = serde_json::from_str(last("ENTRYPOINT")).expect("ENTRYPOINT in exec form");
    assert!(
        entrypoint
            .windows(2)
            .any(|pair| pair[0] == "--web.listen-address" && pair[1] == format!("0.0.0.0:{default_port}")),
        "the image listens on 0.0.0.0:{default_port}: {entrypoint:?}"
    );
    assert_eq!(container["ports"][0]["containerPort"].as_u64(), Some(u64::from(default_port)));
    // The pod keeps the entrypoint and only appends its arguments.
    assert!(container["command"].is_null(), "command would replace the image's entrypoint");
}
