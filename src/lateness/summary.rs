//! A lateness store exported as a Prometheus summary.
//!
//! The `prometheus` crate has no summary type of its own, so [`WindowSummary`]
//! is a custom collector: each scrape takes a [`super::WindowSnapshot`] and
//! hands the text encoder a `SUMMARY` family, which it writes as Prometheus
//! does (`quantile="0.5"` … `quantile="1"`, then `_sum` and `_count`).

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Metric, MetricFamily, MetricType, Quantile, Summary};

use super::LatenessStore;

/// Exports `store` as the summary `jitterd_<name>`.
pub struct WindowSummary {
    desc: Desc,
    store: Arc<LatenessStore>,
}

impl WindowSummary {
    pub fn new(name: &str, help: &str, store: Arc<LatenessStore>) -> Result<WindowSummary, prometheus::Error> {
        let desc = Desc::new(format!("jitterd_{name}"), help.to_owned(), Vec::new(), HashMap::new())?;
        Ok(WindowSummary { desc, store })
    }
}

impl Collector for WindowSummary {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let snapshot = self.store.window_snapshot();
        let mut summary = Summary::default();
        summary.set_sample_count(snapshot.count);
        summary.set_sample_sum(snapshot.sum_seconds);
        summary.set_quantile(
            snapshot
                .quantiles
                .iter()
                .map(|&(quantile, seconds)| {
                    let mut exported = Quantile::default();
                    exported.set_quantile(quantile);
                    exported.set_value(seconds);
                    exported
                })
                .collect(),
        );
        let mut metric = Metric::default();
        metric.set_summary(summary);
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::SUMMARY);
        family.set_metric(vec![metric]);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use prometheus::{Encoder, Registry, TextEncoder};

    use super::*;

    fn render(stores: &[(&str, Arc<LatenessStore>)]) -> String {
        let registry = Registry::new();
        for (name, store) in stores {
            let summary =
                WindowSummary::new(name, "Lateness of every slot over the last record.window.", Arc::clone(store))
                    .expect("valid name");
            registry.register(Box::new(summary)).expect("registers once");
        }
        let mut text = Vec::new();
        TextEncoder::new().encode(&registry.gather(), &mut text).expect("encodes");
        String::from_utf8(text).expect("UTF-8")
    }

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
        let complaints =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success() || !complaints.is_empty(), "promtool failed silently");
        complaints
    }

    #[test]
    fn exposition_is_a_valid_summary() {
        let main = Arc::new(LatenessStore::new(Duration::from_secs(60)));
        let control = Arc::new(LatenessStore::new(Duration::from_secs(60)));
        for ms in 1..=100 {
            main.record_slots(ms * 1_000_000, 10_000_000, 0);
        }
        let text = render(&[("heartbeat_lateness_window_seconds", main), ("control_lateness_window_seconds", control)]);
        let expected_main = "\
# HELP jitterd_heartbeat_lateness_window_seconds Lateness of every slot over the last record.window.
# TYPE jitterd_heartbeat_lateness_window_seconds summary
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.5\"} 0.050003967
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.9\"} 0.090046463
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.99\"} 0.099024895
jitterd_heartbeat_lateness_window_seconds{quantile=\"0.999\"} 0.100007935
jitterd_heartbeat_lateness_window_seconds{quantile=\"1\"} 0.100007935
jitterd_heartbeat_lateness_window_seconds_sum 5.05
jitterd_heartbeat_lateness_window_seconds_count 100
";
        assert!(text.contains(expected_main), "{text}");
        // The empty control store: NaN quantiles, as client_golang writes them.
        assert!(text.contains("jitterd_control_lateness_window_seconds{quantile=\"0.99\"} NaN\n"), "{text}");
        assert!(text.contains("jitterd_control_lateness_window_seconds_count 0\n"), "{text}");
        assert_eq!(promtool_check(&text), "", "{text}");
    }

    #[test]
    fn a_bad_name_is_an_error_not_a_panic() {
        let store = Arc::new(LatenessStore::new(Duration::from_secs(60)));
        assert!(WindowSummary::new("bad name", "help", store).is_err());
    }
}
