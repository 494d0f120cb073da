use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;
use crate::array::Check;
use crate::config::Config;
use crate::experiment::{Heartbeat, Settings};
use crate::measure::{BeatTimes, Scheduler};
use crate::observe::Keep;
use crate::sys::clock::MonoTime;

/// `promtool check metrics` on `text`: its complaints, empty when clean.
fn promtool_check(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/test installs it)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let output = child.wait_with_output().expect("promtool runs");
    let complaints = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() || !complaints.is_empty(), "promtool failed silently");
    complaints
}

/// An observatory whose main heartbeat beat 100 times, 1 ms to 100 ms late.
fn observed() -> Arc<Observatory> {
    let observatory = Arc::new(Observatory::new(Keep::Window));
    let settings = Settings { period: Duration::from_secs(1), ..Config::embedded_default().experiment() };
    observatory.begin(&settings, MonoTime(0));
    let mut scheduler = Scheduler::new(settings.schedule, settings.period, MonoTime(0));
    for ms in 1..=100 {
        let due = scheduler.due();
        let done = due.plus_ns(ms * 1_000_000);
        let beat = scheduler.complete(BeatTimes { scheduled: due, woke: due, accessed: due, done });
        observatory.record(Heartbeat::Main, &beat, Check { value: ms, mismatched_elements: 0 });
    }
    observatory
}

fn render(observatory: Arc<Observatory>) -> String {
    let exporter = Exporter::new(observatory, Arc::default(), Some(1.1)).expect("registers");
    String::from_utf8(exporter.render().expect("encodes")).expect("UTF-8")
}

#[test]
fn exposition_is_valid_and_one_moment() {
    let text = render(observed());
    let expected_window = "\
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.5\"} 0.050003967
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.9\"} 0.090046463
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.99\"} 0.099024895
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.999\"} 0.100007935
jitterd_heartbeat_lateness_window_seconds{quantile=\"1\"} 0.100007935
jitterd_heartbeat_lateness_window_seconds_sum 5.05
jitterd_heartbeat_lateness_window_seconds_count 100
";
    assert!(text.contains(expected_window), "{text}");
    for line in [
        "jitterd_heartbeats_total 100",
        "jitterd_heartbeat_lateness_seconds_count 100",
        "jitterd_heartbeat_wake_lateness_seconds_count 100",
        "jitterd_consistency_checks_total{result=\"consistent\"} 100",
        "jitterd_consistency_checks_total{result=\"inconsistent\"} 0",
        "jitterd_heartbeat_period_seconds 1",
        "jitterd_array_value 100",
        "jitterd_config_last_reload_successful 1",
        "jitterd_experiment_info{schedule=\"absolute\",strategy=\"async\"} 1",
        // The empty control window: NaN quantiles, as client_golang writes them.
        "jitterd_control_lateness_window_seconds{quantile=\"0.99\"} NaN",
        "jitterd_control_lateness_window_seconds_count 0",
        "jitterd_heartbeat_lateness_seconds_bucket{le=\"0.00000119\"} 0",
        "jitterd_heartbeat_wake_lateness_seconds_bucket{le=\"0.000001\"} 100",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    assert_eq!(promtool_check(&text), "", "{text}");
}

#[test]
fn every_family_is_described_once_and_exported() {
    let text = render(observed());
    let mut names: Vec<&str> = SPECS.iter().map(|spec| spec.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), SPECS.len(), "a family listed twice");
    for name in names {
        assert!(text.contains(&format!("# TYPE jitterd_{name} ")), "{name} not exported");
    }
}

/// The families of a delimited protobuf body, read with protobuf's own stream.
fn decode(body: &[u8]) -> Vec<MetricFamily> {
    let mut input = protobuf::CodedInputStream::from_bytes(body);
    let mut families = Vec::new();
    while !input.eof().expect("reads") {
        families.push(input.read_message::<MetricFamily>().expect("a delimited MetricFamily"));
    }
    families
}

/// The text without the `process_*` families, which move between two renders.
fn without_process(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    text.lines().filter(|line| !line.contains("process_")).collect::<Vec<_>>().join("\n")
}

const PROMETHEUS_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                                 encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

#[test]
fn the_answer_follows_the_accept_header_and_the_switch() {
    let observatory = observed();
    let on = Exporter::new(Arc::clone(&observatory), Arc::default(), Some(1.1)).expect("registers");
    let off = Exporter::new(observatory, Arc::default(), None).expect("registers");
    let text = without_process(&on.render().expect("encodes"));
    for (exporter, accept) in [(&on, None), (&on, Some("text/plain")), (&off, Some(PROMETHEUS_ACCEPT))] {
        let answer = exporter.answer(accept).expect("answers");
        assert_eq!(answer.content_type, TEXT_FORMAT);
        assert_eq!(without_process(&answer.body), text, "{accept:?}");
    }
    let answer = on.answer(Some(PROMETHEUS_ACCEPT)).expect("answers");
    assert_eq!(answer.content_type, PROTOBUF_FORMAT);
    let families = decode(&answer.body);
    let lateness = families.iter().find(|f| f.name() == "jitterd_heartbeat_lateness_seconds").expect("lateness");
    assert_eq!(lateness.get_metric()[0].get_histogram().sample_count(), 100);
    assert_eq!(families.len(), on.text.gather().len(), "the same families in both formats");
    // The native part, at the default factor's schema 3, counts the same
    // 100 slots (1 to 100 ms late): fields 5 (schema) and 13 (deltas).
    let histogram = lateness.get_metric()[0].get_histogram();
    let fields: Vec<_> = protobuf::Message::unknown_fields(&**histogram).iter().collect();
    assert!(fields.contains(&(5, protobuf::UnknownValueRef::Varint(6))), "schema 3, ZigZag 6: {fields:?}");
    let (mut count, mut total) = (0i64, 0i64);
    for (_, value) in fields.iter().filter(|(number, _)| *number == 13) {
        let protobuf::UnknownValueRef::Varint(zigzag) = *value else { panic!("{value:?}") };
        count += ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        total += count;
    }
    assert_eq!(total, 100);
}

#[test]
fn before_any_experiment_settings_are_zero_and_nothing_is_described() {
    let text = render(Arc::new(Observatory::new(Keep::Window)));
    assert!(text.lines().any(|l| l == "jitterd_heartbeat_period_seconds 0"), "{text}");
    assert!(!text.contains("jitterd_experiment_info{"), "{text}");
    assert!(text.contains("jitterd_build_info{revision="));
}
