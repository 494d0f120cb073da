//! The Kubernetes manifests in `deploy/kubernetes/`, against each other, the
//! Containerfile and the real daemon: every manifest parses and is listed in
//! the kustomization; the PrometheusRule carries the rule file's groups; the
//! DaemonSet is non-root with a read-only root filesystem, stays off tainted
//! (control-plane) nodes unless the opt-in component is added, probes
//! `/-/healthy` and `/-/ready` on the daemon's port, runs the image's
//! entrypoint as built and mounts a generated ConfigMap (hash-suffixed, so
//! pods roll) where that entrypoint reads its config, which `jitterd
//! check-config` accepts; its CPU request fits `counter.duty_cycle`; the
//! NetworkPolicy admits only scrapes of that port. With `kubectl` installed,
//! kustomize itself renders the manifests too.

use crate::common;
use crate::containerfile;

use std::path::{Path, PathBuf};
use std::process::Command;

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

fn strings(value: &Value) -> Vec<&str> {
    value.as_sequence().into_iter().flatten().filter_map(Value::as_str).collect()
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

/// `jitterd check-config` on the file at `path`: the effective config, which must be valid.
fn effective_config(path: &str) -> toml::Table {
    let file = repo(path);
    let (code, stdout, stderr) = common::run(&["check-config", "--config.file", file.to_str().expect("path")], &[]);
    assert_eq!(code, 0, "jitterd check-config rejects {path}:\n{stderr}");
    stdout.parse().expect("check-config prints TOML")
}

// ---------------------------------------------------------------- Kubernetes

const KUBERNETES: &str = "deploy/kubernetes";

/// Every manifest of `deploy/kubernetes` (one object per file), by file name.
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
        ["DaemonSet", "Namespace", "NetworkPolicy", "PrometheusRule", "Service", "ServiceMonitor"],
        "kinds in {KUBERNETES}"
    );
    let kustomization = object(&manifests, "Kustomization");
    let mut listed = strings(&kustomization["resources"]);
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
         both are rendered from mixin/; run mixin/generate"
    );
}

#[test]
fn daemonset_is_locked_down_and_matches_the_daemon_and_the_image() {
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
    // Off tainted nodes, control plane included, unless asked (components/control-plane).
    assert!(pod["tolerations"].is_null(), "the base DaemonSet tolerates no taint: {:?}", pod["tolerations"]);

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

    // The image as the Containerfile builds it: its tag, its user, its entrypoint untouched.
    let image = text(container, "image", "container");
    assert!(containerfile::text().contains(&format!("-t {image}")), "image {image}");
    let user = containerfile::last("USER");
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), uid.parse().ok(), "runAsUser vs USER");
    assert_eq!(pod["securityContext"]["runAsGroup"].as_u64(), gid.parse().ok(), "runAsGroup vs USER");
    assert!(
        container["command"].is_null() && container["args"].is_null(),
        "the pod runs the image's entrypoint as it is, which names the config file"
    );

    // The config: the generated ConfigMap, mounted where the entrypoint reads
    // it, valid for the real daemon and listening on every interface at the default port.
    let config_path = containerfile::config_path(&containerfile::exec_form("ENTRYPOINT"));
    let (dir, key) = config_path.rsplit_once('/').expect("absolute config path");
    let mount = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
        .iter()
        .find(|mount| mount["mountPath"].as_str() == Some(dir))
        .unwrap_or_else(|| panic!("nothing mounted at {dir}, where the image reads {config_path}"));
    assert_eq!(mount["readOnly"].as_bool(), Some(true));
    let volume = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|volume| volume["name"] == mount["name"])
        .expect("the mounted volume");
    let configmap_name = text(&volume["configMap"], "name", "the mounted volume's configMap");
    let config_file = generated_config_file(configmap_name, key);
    let effective = effective_config(&format!("{KUBERNETES}/{config_file}"));
    let web = effective["web"].as_table().expect("[web]");
    assert_eq!(web["listen_address"].as_str(), Some(format!("0.0.0.0:{default_port}").as_str()));
    cpu_request_fits_the_duty_cycle(container, &effective);

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

    // The NetworkPolicy lets in scrapes of that port from chosen pods, and nothing out.
    let policy = object(&manifests, "NetworkPolicy");
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"], *selector, "the policy selects the DaemonSet's pods");
    let mut types = strings(&policy["spec"]["policyTypes"]);
    types.sort_unstable();
    assert_eq!(types, ["Egress", "Ingress"]);
    let egress = &policy["spec"]["egress"];
    assert!(egress.is_null() || egress.as_sequence().is_some_and(Vec::is_empty), "jitterd needs no egress: {egress:?}");
    let rules = policy["spec"]["ingress"].as_sequence().expect("ingress rules");
    assert!(!rules.is_empty(), "no ingress at all would keep Prometheus out");
    for rule in rules {
        let ports = rule["ports"].as_sequence().expect("an ingress rule without ports admits every port");
        for port in ports {
            assert!(
                port["port"].as_str() == Some(port_name) || port["port"].as_u64() == Some(u64::from(default_port)),
                "ingress on {:?}, not the metrics port",
                port["port"]
            );
        }
        let peers = rule["from"].as_sequence().expect("an ingress rule without from admits every source");
        for peer in peers {
            let selects_something = ["namespaceSelector", "podSelector"]
                .iter()
                .any(|key| peer[*key]["matchLabels"].as_mapping().is_some_and(|labels| !labels.is_empty()));
            assert!(selects_something, "an empty peer admits everyone: {peer:?}");
        }
    }
}

/// The file of the kustomization's configMapGenerator named `name` that
/// becomes data key `key`; checks the generator keeps its hash suffix.
fn generated_config_file(name: &str, key: &str) -> String {
    let kustomization = yaml(&format!("{KUBERNETES}/kustomization.yaml"));
    let generator = kustomization["configMapGenerator"]
        .as_sequence()
        .expect("configMapGenerator")
        .iter()
        .find(|generator| generator["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no configMapGenerator named {name}"));
    assert_eq!(generator["namespace"].as_str(), Some("jitterd"));
    assert!(
        generator["options"]["disableNameSuffixHash"].as_bool() != Some(true)
            && kustomization["generatorOptions"]["disableNameSuffixHash"].as_bool() != Some(true),
        "without the hash suffix a changed config does not roll the pods"
    );
    let files = strings(&generator["files"]);
    // A file entry is "name" (the key is the file name) or "key=name".
    let file = files
        .iter()
        .find_map(|entry| match entry.split_once('=') {
            Some((k, file)) => (k == key).then_some(file),
            None => (Path::new(entry).file_name().and_then(|n| n.to_str()) == Some(key)).then_some(*entry),
        })
        .unwrap_or_else(|| panic!("configMapGenerator {name} has no file for key {key}: {files:?}"));
    file.to_owned()
}

/// The CPU request follows `counter.duty_cycle`: a counter running flat out
/// needs its whole core, one running a tenth of the time does not.
fn cpu_request_fits_the_duty_cycle(container: &Value, effective: &toml::Table) {
    let request = container["resources"]["requests"]["cpu"].as_str().expect("a CPU request");
    let cores: f64 = match request.strip_suffix('m') {
        Some(millis) => millis.parse::<f64>().expect("millicores") / 1000.0,
        None => request.parse().expect("cores"),
    };
    let duty_cycle = effective["counter"]
        .get("duty_cycle")
        .and_then(toml::Value::as_float)
        .unwrap_or_else(|| panic!("the effective config has no counter.duty_cycle: {effective}"));
    assert!(
        cores >= duty_cycle.min(1.0),
        "the pod requests {request} but its counter runs {duty_cycle} of the time: raise the request"
    );
    assert!(
        duty_cycle < 1.0 || cores >= 1.0,
        "the pod requests {request} but deploy/kubernetes/jitterd.toml runs the counter flat out: set \
         `duty_cycle = 0.1` under [counter] there (or request cpu: \"1\")"
    );
}

#[test]
fn control_plane_component_adds_only_the_control_plane_toleration() {
    let component = yaml(&format!("{KUBERNETES}/components/control-plane/kustomization.yaml"));
    assert_eq!(component["kind"].as_str(), Some("Component"));
    let patch = &component["patches"][0];
    assert_eq!(patch["target"]["kind"].as_str(), Some("DaemonSet"));
    let operations: Value = serde_norway::from_str(text(patch, "patch", "the component's patch")).expect("JSON patch");
    let tolerations = operations[0]["value"].as_sequence().expect("tolerations");
    assert_eq!(operations[0]["path"].as_str(), Some("/spec/template/spec/tolerations"));
    for toleration in tolerations {
        assert_eq!(toleration["key"].as_str(), Some("node-role.kubernetes.io/control-plane"), "{toleration:?}");
    }
}

/// `kubectl kustomize DIR`, or `None` where kubectl is not installed.
fn kustomize(dir: &Path) -> Option<Vec<Value>> {
    let out = Command::new("kubectl").arg("kustomize").arg(dir).output().ok()?;
    assert!(out.status.success(), "kubectl kustomize {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    Some(text.split("\n---\n").map(|doc| serde_norway::from_str(doc).expect("rendered YAML")).collect())
}

fn rendered<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects.iter().find(|o| o["kind"].as_str() == Some(kind)).unwrap_or_else(|| panic!("kustomize rendered no {kind}"))
}

#[test]
fn kustomize_renders_a_config_that_rolls_the_pods_and_the_opt_in_toleration() {
    let Some(objects) = kustomize(&repo(KUBERNETES)) else {
        crate::common::not_tested("the kustomize rendering: kubectl is not installed");
        return;
    };
    let configmap = rendered(&objects, "ConfigMap");
    let name = text(&configmap["metadata"], "name", "ConfigMap");
    assert!(name.starts_with("jitterd-"), "hash-suffixed name: {name}");
    let daemonset = rendered(&objects, "DaemonSet");
    let volumes = daemonset["spec"]["template"]["spec"]["volumes"].as_sequence().expect("volumes");
    assert!(volumes.iter().any(|v| v["configMap"]["name"].as_str() == Some(name)), "the DaemonSet mounts {name}");
    assert!(daemonset["spec"]["template"]["spec"]["tolerations"].is_null());

    // Another config is another ConfigMap name, so another pod template: the pods roll.
    let copy = copy_of_kubernetes();
    let toml = copy.path().join("jitterd.toml");
    let changed = std::fs::read_to_string(&toml).expect("toml").replace("period = \"1s\"", "period = \"500ms\"");
    std::fs::write(&toml, changed).expect("write");
    let objects_after = kustomize(copy.path()).expect("kubectl");
    let renamed = text(&rendered(&objects_after, "ConfigMap")["metadata"], "name", "ConfigMap");
    assert_ne!(renamed, name, "a changed jitterd.toml must change the ConfigMap's name");

    // Opting in to control-plane nodes as kustomization.yaml says: uncomment its components.
    let copy = copy_of_kubernetes();
    let kustomization = copy.path().join("kustomization.yaml");
    let commented = "# components:\n#   - components/control-plane\n";
    let text_before = std::fs::read_to_string(&kustomization).expect("kustomization");
    assert!(text_before.contains(commented), "kustomization.yaml shows how to opt in: {commented}");
    std::fs::write(&kustomization, text_before.replace(commented, "components:\n  - components/control-plane\n"))
        .expect("write");
    let objects = kustomize(copy.path()).expect("kubectl");
    let tolerations = &rendered(&objects, "DaemonSet")["spec"]["template"]["spec"]["tolerations"];
    assert_eq!(tolerations[0]["key"].as_str(), Some("node-role.kubernetes.io/control-plane"), "{tolerations:?}");
}

/// `deploy/kubernetes` copied into a temporary directory, to render variations of it.
fn copy_of_kubernetes() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read dir").map(|e| e.expect("entry").path()) {
            let target = to.join(entry.file_name().expect("name"));
            if entry.is_dir() { copy(&entry, &target) } else { std::fs::copy(&entry, &target).map(drop).expect("copy") }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy(&repo(KUBERNETES), dir.path());
    dir
}
