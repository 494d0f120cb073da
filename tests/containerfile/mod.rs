//! `deploy/container/Containerfile` read as its instructions, for the tests
//! that hold the image, the DaemonSet and the container config to it.

use std::path::Path;

pub(crate) const CONTAINERFILE: &str = "deploy/container/Containerfile";

pub(crate) fn text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CONTAINERFILE);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{CONTAINERFILE}: {err}"))
}

/// The instructions as (INSTRUCTION, arguments), continuation lines joined.
pub(crate) fn instructions() -> Vec<(String, String)> {
    text()
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(char::is_whitespace))
        .map(|(instruction, rest)| (instruction.to_uppercase(), rest.trim().to_owned()))
        .collect()
}

/// The arguments of the last `name` instruction.
pub(crate) fn last(name: &str) -> String {
    instructions()
        .into_iter()
        .rev()
        .find(|(instruction, _)| instruction == name)
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("Containerfile has no {name}"))
}

/// An instruction in exec form (ENTRYPOINT, or HEALTHCHECK's CMD) as its words.
pub(crate) fn exec_form(name: &str) -> Vec<String> {
    let rest = last(name);
    let json = match name {
        "HEALTHCHECK" => rest.split_once("CMD").expect("HEALTHCHECK … CMD").1.trim(),
        _ => &rest,
    };
    serde_json::from_str(json).unwrap_or_else(|err| panic!("{name} is not in exec form ({err}): {json}"))
}

/// The config file a command reads: its one `--config.file=PATH`.
pub(crate) fn config_path(command: &[String]) -> String {
    let paths: Vec<&str> = command.iter().filter_map(|arg| arg.strip_prefix("--config.file=")).collect();
    assert_eq!(paths.len(), 1, "one --config.file=PATH in {command:?}");
    paths[0].to_owned()
}
