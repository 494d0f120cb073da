//! The table: broken config files, special paths as the config file,
//! environment overrides and command lines, each with the exit code it
//! must get and the words its message must hold (the key, the value, the
//! file, what is valid). It stays one table, checked in one test that
//! reports every failing case at once, so adding a case is adding a line.
//! Beside it, the daemon itself (not only `check-config`) refusing a few.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};

use super::{CONFIG, USAGE, check, run};

/// What a case feeds the binary.
enum Input {
    /// This text as the config file.
    File(&'static [u8]),
    /// This path (relative to a fresh temporary folder set up by `Special`) as the config file.
    Path(Special),
    /// One environment variable, no file.
    Env(&'static str, &'static [u8]),
    /// These arguments (bytes, so non-UTF-8 ones can be written), no file.
    Args(&'static [&'static [u8]]),
}

#[derive(Clone, Copy)]
enum Special {
    Missing,
    Directory,
    Fifo,
    DanglingSymlink,
    ComponentIsAFile,
    ProcSelfMem,
    DevZero,
    DevNull,
    Huge,
}

struct Case {
    name: &'static str,
    input: Input,
    code: i32,
    /// Each must appear in stderr (the key, the value, the file, what is valid).
    needles: &'static [&'static str],
}

const fn file(name: &'static str, text: &'static [u8], needles: &'static [&'static str]) -> Case {
    Case { name, input: Input::File(text), code: CONFIG, needles }
}

const fn env(name: &'static str, var: &'static str, value: &'static [u8], needles: &'static [&'static str]) -> Case {
    Case { name, input: Input::Env(var, value), code: CONFIG, needles }
}

const fn path(name: &'static str, special: Special, needles: &'static [&'static str]) -> Case {
    Case { name, input: Input::Path(special), code: CONFIG, needles }
}

const fn args(name: &'static str, args: &'static [&'static [u8]], code: i32, needles: &'static [&'static str]) -> Case {
    Case { name, input: Input::Args(args), code, needles }
}

const CASES: &[Case] = &[
    // Syntax.
    file("unterminated string", b"strategy = \"async\n", &["line 1", "jitterd.toml"]),
    file("unclosed section header", b"[counter\nsize = 1\n", &["line 1", "jitterd.toml"]),
    file("key without a value", b"strategy =\n", &["line 1", "strategy"]),
    file("prose", b"this is not toml\n", &["line 1", "jitterd.toml"]),
    file("duplicate key", b"[counter]\nsize = 1\nsize = 2\n", &["duplicate key", "line 3"]),
    file("duplicate section", b"[counter]\nsize = 1\n[counter]\nsize = 2\n", &["line 3", "counter"]),
    file("raw control character", b"strategy = \"async\x07\"\n", &["line 1", "\\u{7}"]),
    file("NUL byte", b"strategy = \"as\0ync\"\n", &["line 1", "\\u{0}"]),
    file("invalid UTF-8", b"strategy = \"\xff\xfe\"\n", &["not UTF-8", "offset 12"]),
    file("empty file", b"", &["is empty", "jitterd.toml"]),
    file("whitespace only", b" \n\t\n", &["is empty"]),
    // Wrong types.
    file("size as string", b"[counter]\nsize = \"10\"\n", &["counter.size", "expected an integer", "\"10\""]),
    file("size as float", b"[counter]\nsize = 1.5\n", &["counter.size", "expected an integer", "1.5"]),
    file("size as boolean", b"[counter]\nsize = true\n", &["counter.size", "expected an integer"]),
    file("section as value", b"counter = 5\n", &["`counter`", "expected a table"]),
    file("strategy as array", b"strategy = [\"async\"]\n", &["`strategy`", "expected a string", "array"]),
    file("strategy as number", b"strategy = 5\n", &["strategy"]),
    file("control as string", b"[heartbeat]\ncontrol = \"true\"\n", &["heartbeat.control", "expected a boolean"]),
    file("priority as float", b"[heartbeat]\npriority = 5.7\n", &["heartbeat.priority", "5.7"]),
    file("period as table", b"[heartbeat.period]\nx = 1\n", &["heartbeat.period", "table"]),
    // Out of range and overflowing numbers.
    file("size 2^64", b"[counter]\nsize = 18446744073709551616\n", &["size = 18446744073709551616", "line 2"]),
    file("size i64::MAX", b"[counter]\nsize = 9223372036854775807\n", &["counter.size", "9223372036854775807"]),
    file("size -1", b"[counter]\nsize = -1\n", &["counter.size", "-1"]),
    file("size 0", b"[counter]\nsize = 0\n", &["counter.size", "at least 1"]),
    file("priority 0", b"[heartbeat]\npriority = 0\n", &["heartbeat.priority", "1 to 99"]),
    file("priority 100", b"[heartbeat]\npriority = 100\n", &["heartbeat.priority", "1 to 99"]),
    file("priority 256", b"[heartbeat]\npriority = 256\n", &["heartbeat.priority", "256"]),
    file("priority -1", b"[heartbeat]\npriority = -1\n", &["heartbeat.priority", "-1"]),
    // Durations.
    file("huge period", b"[heartbeat]\nperiod = \"100000000000h\"\n", &["heartbeat.period", "out of range", "1h"]),
    file(
        "period overflowing u64 seconds",
        b"[heartbeat]\nperiod = \"99999999999999999999s\"\n",
        &["heartbeat.period", "99999999999999999999s", "too large"],
    ),
    file("period below 100us", b"[heartbeat]\nperiod = \"50us\"\n", &["heartbeat.period", "100us"]),
    file("empty period", b"[heartbeat]\nperiod = \"\"\n", &["heartbeat.period", "\"\"", "250ms"]),
    file("period in fortnights", b"[heartbeat]\nperiod = \"1 fortnight\"\n", &["heartbeat.period", "fortnight"]),
    file("period as float", b"[heartbeat]\nperiod = 1.5\n", &["heartbeat.period", "unit"]),
    file("period nan", b"[heartbeat]\nperiod = nan\n", &["heartbeat.period"]),
    file("timer slack 0", b"[heartbeat]\ntimer_slack = \"0s\"\n", &["heartbeat.timer_slack", "1ns"]),
    file("timer slack 2s", b"[heartbeat]\ntimer_slack = \"2s\"\n", &["heartbeat.timer_slack", "1s"]),
    file("drift threshold 0", b"[alerts]\ndrift_threshold = \"0ms\"\n", &["alerts.drift_threshold", "greater than 0"]),
    file("jitter threshold without unit", b"[alerts]\njitter_threshold = 100\n", &["alerts.jitter_threshold", "unit"]),
    // The record section and the drift window.
    file("record window 5s", b"[record]\nwindow = \"5s\"\n", &["record.window", "5s", "10s", "1h"]),
    file("record window 2h", b"[record]\nwindow = \"2h\"\n", &["record.window", "2h", "10s", "1h"]),
    file("record interval 500ms", b"[record]\ninterval = \"500ms\"\n", &["record.interval", "500ms", "1s", "1h"]),
    file("record interval 2h", b"[record]\ninterval = \"2h\"\n", &["record.interval", "1s", "1h"]),
    file("record window as number", b"[record]\nwindow = 60\n", &["record.window", "unit"]),
    file(
        "drift window under the period",
        b"[heartbeat]\nperiod = \"1s\"\n[alerts]\ndrift_window = \"500ms\"\n",
        &["alerts.drift_window", "500ms", "period (1s)"],
    ),
    file("drift window 2 days", b"[alerts]\ndrift_window = \"2d\"\n", &["alerts.drift_window", "1day"]),
    file(
        "interval log in a missing directory",
        b"[record]\ninterval_log = \"/nonexistent-jitterd/lateness.hlog\"\n",
        &["record.interval_log", "/nonexistent-jitterd/lateness.hlog", "does not exist"],
    ),
    file(
        "interval log is a directory",
        b"[record]\ninterval_log = \"/tmp\"\n",
        &["record.interval_log", "/tmp", "directory"],
    ),
    file("interval log empty", b"[record]\ninterval_log = \"\"\n", &["record.interval_log", "leave the key out"]),
    file("interval log as number", b"[record]\ninterval_log = 5\n", &["record.interval_log", "expected a string"]),
    env("env record window 1s", "JITTERD__RECORD__WINDOW", b"1s", &["JITTERD__RECORD__WINDOW", "record.window", "10s"]),
    env(
        "env drift window 1ms",
        "JITTERD__ALERTS__DRIFT_WINDOW",
        b"1ms",
        &["JITTERD__ALERTS__DRIFT_WINDOW", "alerts.drift_window", "period"],
    ),
    env(
        "env interval log unwritable",
        "JITTERD__RECORD__INTERVAL_LOG",
        b"/proc/nonexistent-jitterd/x.hlog",
        &["JITTERD__RECORD__INTERVAL_LOG", "record.interval_log", "/proc/nonexistent-jitterd/x.hlog"],
    ),
    // Unicode and control characters in values and keys.
    file("Cyrillic a in strategy", "strategy = \"\u{430}sync\"\n".as_bytes(), &["strategy", "\u{430}sync", "async"]),
    file("escaped NUL in strategy", b"strategy = \"a\\u0000b\"\n", &["strategy", "threads-mutex"]),
    file("empty strategy", b"strategy = \"\"\n", &["strategy", "\"\""]),
    file("schedule in capitals", b"[heartbeat]\nschedule = \"Absolute\"\n", &["heartbeat.schedule", "absolute"]),
    file("unquoted unicode key", "[counter]\nsiz\u{e9} = 1\n".as_bytes(), &["line 2", "siz\u{e9} = 1"]),
    file("quoted unicode key", "[counter]\n\"siz\u{e9}\" = 1\n".as_bytes(), &["counter.siz\u{e9}", "`size`"]),
    file("control character in key", b"[counter]\n\"size\\u0001\" = 1\n", &["counter.size\\u{1}", "`size`"]),
    file("emoji section", "[\"\u{1f600}\"]\nx = 1\n".as_bytes(), &["\u{1f600}", "strategy"]),
    file("telemetry path with space", b"[web]\ntelemetry_path = \"/met rics\"\n", &["web.telemetry_path", "/met rics"]),
    file("telemetry path unicode", "[web]\ntelemetry_path = \"/m\u{e9}trics\"\n".as_bytes(), &["web.telemetry_path"]),
    file("telemetry path newline", b"[web]\ntelemetry_path = \"/metrics\\n\"\n", &["web.telemetry_path", "\\n"]),
    file("telemetry path is healthy", b"[web]\ntelemetry_path = \"/-/healthy\"\n", &["web.telemetry_path"]),
    file(
        "telemetry path is the live API",
        b"[web]\ntelemetry_path = \"/api/v1/beats\"\n",
        &["web.telemetry_path", "/api/"],
    ),
    file(
        "telemetry path is the page's script",
        b"[web]\ntelemetry_path = \"/live.js\"\n",
        &["web.telemetry_path", "/live.js"],
    ),
    file("listen port 65536", b"[web]\nlisten_address = \"127.0.0.1:65536\"\n", &["web.listen_address", "65536"]),
    file("listen without port", b"[web]\nlisten_address = \"127.0.0.1\"\n", &["web.listen_address", "host:port"]),
    file("empty listen address", b"[web]\nlisten_address = \"\"\n", &["web.listen_address", "host:port"]),
    file("empty log level", b"[log]\nlevel = \"\"\n", &["log.level", "debug"]),
    file("log format in capitals", b"[log]\nformat = \"JSON\"\n", &["log.format", "\"JSON\"", "json"]),
    // Paths that are not readable config files (tests run as root, so no chmod 000).
    path("missing file", Special::Missing, &["missing.toml", "cannot read"]),
    path("directory", Special::Directory, &["directory"]),
    path("FIFO", Special::Fifo, &["FIFO", "regular file"]),
    path("dangling symlink", Special::DanglingSymlink, &["dangling.toml", "No such file"]),
    path("path through a file", Special::ComponentIsAFile, &["Not a directory"]),
    path("/proc/self/mem", Special::ProcSelfMem, &["/proc/self/mem", "cannot read"]),
    path("/dev/zero", Special::DevZero, &["/dev/zero", "character device"]),
    path("/dev/null", Special::DevNull, &["/dev/null", "character device"]),
    path("a 2 MiB file", Special::Huge, &["larger than"]),
    // Environment overrides.
    env("env size not a number", "JITTERD__COUNTER__SIZE", b"ten", &["JITTERD__COUNTER__SIZE", "counter.size"]),
    env("env size float", "JITTERD__COUNTER__SIZE", b"1.5", &["JITTERD__COUNTER__SIZE", "\"1.5\""]),
    env("env size 2^64", "JITTERD__COUNTER__SIZE", b"18446744073709551616", &["counter.size", "18446744073709551616"]),
    env("env size empty", "JITTERD__COUNTER__SIZE", b"", &["JITTERD__COUNTER__SIZE", "counter.size"]),
    env(
        "env huge period",
        "JITTERD__HEARTBEAT__PERIOD",
        b"100000000000h",
        &["JITTERD__HEARTBEAT__PERIOD", "out of range"],
    ),
    env("env period control char", "JITTERD__HEARTBEAT__PERIOD", b"1s\x1b[2J", &["heartbeat.period", "\\u{1b}"]),
    env("env non-UTF-8 value", "JITTERD__STRATEGY", b"\xffasync", &["JITTERD__STRATEGY", "UTF-8"]),
    env("env unknown key", "JITTERD__HEARTBEAT__PERIODE", b"1s", &["heartbeat.periode", "`period`"]),
    env("env three levels", "JITTERD__A__B__C", b"1", &["JITTERD__A__B__C", "JITTERD__SECTION__KEY"]),
    env("env prefix only", "JITTERD__", b"1", &["JITTERD__", "JITTERD__SECTION__KEY"]),
    env("env section as value", "JITTERD__HEARTBEAT", b"fast", &["heartbeat"]),
    env("env unicode key", "JITTERD__HEARTBEAT__P\u{c9}RIOD", b"1s", &["heartbeat.p\u{c9}riod"]),
    env("env priority 1000", "JITTERD__HEARTBEAT__PRIORITY", b"1000", &["heartbeat.priority", "1000"]),
    env("env listen port", "JITTERD__WEB__LISTEN_ADDRESS", b"127.0.0.1:99999", &["web.listen_address", "99999"]),
    // Command lines.
    args("unknown flag", &[b"--bogus"], USAGE, &["--bogus"]),
    args("unknown command", &[b"explode"], USAGE, &["explode"]),
    args("config flag without value", &[b"--config.file"], USAGE, &["--config.file"]),
    args("config flag twice", &[b"--config.file", b"a", b"--config.file", b"b"], USAGE, &["--config.file"]),
    args("empty config path", &[b"--config.file", b"", b"check-config"], USAGE, &["--config.file"]),
    args("listen flag nonsense", &[b"--web.listen-address", b"nope", b"check-config"], USAGE, &["\"nope\""]),
    args("listen flag port overflow", &[b"--web.listen-address", b"[::1]:70000"], USAGE, &["[::1]:70000"]),
    args("listen flag control char", &[b"--web.listen-address", b"\x07:1", b"check-config"], USAGE, &["host:port"]),
    args("log level flag", &[b"--log.level", b"loud", b"check-config"], USAGE, &["--log.level", "loud"]),
    args("log format flag", &[b"--log.format", b"JSON", b"check-config"], USAGE, &["--log.format", "JSON"]),
    args("non-UTF-8 argument", &[b"--config.file", b"\xff.toml", b"check-config"], CONFIG, &["cannot read"]),
    args("non-UTF-8 command", &[b"\xffrun"], USAGE, &["jitterd"]),
    args("extra positional", &[b"check-config", b"extra"], USAGE, &["extra"]),
];

fn special_path(dir: &Path, special: Special) -> PathBuf {
    match special {
        Special::Missing => dir.join("missing.toml"),
        Special::Directory => dir.to_path_buf(),
        Special::Fifo => {
            let fifo = dir.join("fifo.toml");
            nix_mkfifo(&fifo);
            fifo
        }
        Special::DanglingSymlink => {
            let link = dir.join("dangling.toml");
            std::os::unix::fs::symlink(dir.join("gone.toml"), &link).expect("symlink");
            link
        }
        Special::ComponentIsAFile => {
            let plain = dir.join("plain");
            std::fs::write(&plain, "x").expect("write");
            plain.join("jitterd.toml")
        }
        Special::ProcSelfMem => PathBuf::from("/proc/self/mem"),
        Special::DevZero => PathBuf::from("/dev/zero"),
        Special::DevNull => PathBuf::from("/dev/null"),
        Special::Huge => {
            let huge = dir.join("huge.toml");
            let mut text = String::from("strategy = \"async\"\n");
            while text.len() < 2 * 1024 * 1024 {
                text.push_str("# padding padding padding padding padding padding padding padding\n");
            }
            std::fs::write(&huge, text).expect("write");
            huge
        }
    }
}

fn nix_mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo");
}

#[test]
fn every_bad_input_gets_its_exit_code_and_a_message_naming_it() {
    assert!(CASES.len() >= 40, "the issue asks for at least 40 cases");
    let mut problems = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("jitterd.toml");
        let (argv, envs): (Vec<OsString>, Vec<(OsString, OsString)>) = match &case.input {
            Input::File(text) => {
                std::fs::write(&config, text).expect("write");
                (vec!["--config.file".into(), config.into(), "check-config".into()], vec![])
            }
            Input::Path(special) => {
                (vec!["--config.file".into(), special_path(dir.path(), *special).into(), "check-config".into()], vec![])
            }
            Input::Env(name, value) => {
                (vec!["check-config".into()], vec![(name.into(), OsString::from_vec(value.to_vec()))])
            }
            Input::Args(args) => (args.iter().map(|a| OsString::from_vec(a.to_vec())).collect(), vec![]),
        };
        problems.extend(check(case.name, run(argv, envs), case.code, case.needles));
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// The daemon itself (not only check-config) refuses a bad file before serving.
#[test]
fn the_daemon_refuses_what_check_config_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("jitterd.toml");
    for text in [
        "[counter]\nsize = 1.5\n",
        "",
        "[heartbeat]\nperiod = \"100000000000h\"\n",
        "[record]\ninterval_log = \"/nonexistent-jitterd/lateness.hlog\"\n",
        "[record]\nwindow = \"5s\"\n",
    ] {
        std::fs::write(&config, text).expect("write");
        let argv =
            vec!["--config.file".into(), config.clone().into(), "--web.listen-address".into(), "127.0.0.1:0".into()];
        let problems = check(text, run(argv, vec![]), CONFIG, &["jitterd.toml"]);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
