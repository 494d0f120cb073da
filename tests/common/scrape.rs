//! Reading the daemon over HTTP: one request ([`http`]), and a scrape of
//! `/metrics` parsed into [`Metrics`], whose reads fail on a series the
//! scrape lacks, so a typo or a lost family never reads as zero.

use std::collections::BTreeMap;
use std::time::Duration;

/// One HTTP request: status and body; status 0 when it failed to complete.
pub(crate) fn http(method: &str, url: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let request = ureq::http::Request::builder().method(method).uri(url).body(()).expect("request");
    match agent.run(request) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            (status, response.body_mut().read_to_string().unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

/// GET `url` as a Prometheus server would, parsed; or why the scrape
/// failed: no answer, a status other than 200, a body that could not be
/// read to its end, or an empty one (none of which is a scrape).
pub(crate) fn scrape(url: &str) -> Result<Metrics, String> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent.get(url).call().map_err(|err| format!("scrape of {url} failed: {err}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|err| format!("scrape of {url}: HTTP {status}, body unreadable: {err}"))?;
    if status != 200 {
        return Err(format!("scrape of {url}: HTTP {status}: {body}"));
    }
    if body.trim().is_empty() {
        return Err(format!("scrape of {url}: HTTP 200 with an empty body"));
    }
    Ok(Metrics::parse(&body))
}

/// A parsed Prometheus text exposition: series (name plus labels as printed) to value.
pub(crate) struct Metrics {
    pub text: String,
    pub series: BTreeMap<String, f64>,
}

impl Metrics {
    pub(crate) fn parse(text: &str) -> Metrics {
        let mut series = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            if let Some((name, value)) = line.rsplit_once(' ') {
                let value = match value {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    v => v.parse().unwrap_or(f64::NAN),
                };
                series.insert(name.to_owned(), value);
            }
        }
        Metrics { text: text.to_owned(), series }
    }

    /// The value of a series that must be in the scrape, e.g.
    /// `jitterd_heartbeats_total` or
    /// `jitterd_consistency_checks_total{result="consistent"}` (labels as
    /// printed). Every family jitterd exports is there from the start, so
    /// an absent series is a typo or a family the daemon lost: it panics,
    /// naming the series and listing the scraped ones that share the
    /// longest prefix with it.
    #[track_caller]
    pub(crate) fn get(&self, series: &str) -> f64 {
        match self.series.get(series) {
            Some(&value) => value,
            None => panic!("{}", self.absent(series)),
        }
    }

    /// The value of a series, or 0 when the scrape lacks it: only for a
    /// series whose absence legitimately means zero (a label value that
    /// appears with its first event, say). Say why at the call site;
    /// anything else reads with [`Metrics::get`].
    pub(crate) fn value_or_zero(&self, series: &str) -> f64 {
        self.series.get(series).copied().unwrap_or(0.0)
    }

    pub(crate) fn has(&self, family: &str) -> bool {
        self.text.lines().any(|l| l.starts_with(&format!("# TYPE {family} ")))
    }

    /// Every family the scrape declares, from its `# TYPE` lines, in order.
    pub(crate) fn families(&self) -> Vec<Family> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' '))
            .map(|(name, kind)| Family { name: name.to_owned(), kind: kind.trim().to_owned() })
            .collect()
    }

    /// Observations in a histogram above the bucket bound `le`, which must be
    /// one of the histogram's bounds as exported (count − bucket{le}).
    #[track_caller]
    pub(crate) fn count_above(&self, histogram: &str, le: &str) -> f64 {
        let bucket = format!("{histogram}_bucket{{le=\"{le}\"}}");
        let Some(&below) = self.series.get(&bucket) else {
            let prefix = format!("{histogram}_bucket{{le=\"");
            let bounds: Vec<&str> =
                self.series.keys().filter_map(|s| s.strip_prefix(&prefix)?.strip_suffix("\"}")).collect();
            panic!("no bucket {bucket} in the scrape; the bounds of {histogram} are: {}", bounds.join(" "));
        };
        self.get(&format!("{histogram}_count")) - below
    }

    /// Why `series` is not in the scrape: the scraped series that share the
    /// longest prefix of whole words with its family (so `jitterd_heartbeat_total`
    /// lists `jitterd_heartbeat_*`, and `jitterd_heartbeats_total`), or that
    /// the scrape holds nothing.
    fn absent(&self, series: &str) -> String {
        const SHOWN: usize = 40;
        let name = series.split('{').next().unwrap_or(series);
        let family = ["_bucket", "_count", "_sum"].iter().find_map(|suffix| name.strip_suffix(suffix)).unwrap_or(name);
        let words: Vec<&str> = family.split('_').collect();
        for kept in (1..=words.len()).rev() {
            let prefix = words[..kept].join("_");
            let near: Vec<&str> = self.series.keys().filter(|s| s.starts_with(&prefix)).map(String::as_str).collect();
            if near.is_empty() {
                continue;
            }
            let more = near.len().saturating_sub(SHOWN);
            let more = if more > 0 { format!("\n  … and {more} more") } else { String::new() };
            return format!(
                "series {series} is not in the scrape; the scraped series starting with {prefix}:\n  {}{more}",
                near[..near.len().min(SHOWN)].join("\n  ")
            );
        }
        match self.series.len() {
            0 => format!("series {series} is not in the scrape, which holds no series at all:\n{}", self.text),
            n => format!("series {series} is not in the scrape; none of its {n} series starts as it does"),
        }
    }
}

/// A metric family as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Family {
    /// As its `# TYPE` line names it, e.g. `jitterd_heartbeats_total`.
    pub name: String,
    /// `counter`, `gauge`, `histogram` or `summary`.
    pub kind: String,
}

/// The scrape reader is an oracle too: these show that a series read by
/// mistake fails instead of reading as zero.
mod reading_a_scrape {
    use super::Metrics;

    const SCRAPE: &str = "# HELP jitterd_heartbeats_total Heartbeats completed.
# TYPE jitterd_heartbeats_total counter
jitterd_heartbeats_total 7
# TYPE jitterd_heartbeat_missed_total counter
jitterd_heartbeat_missed_total 0
# TYPE jitterd_consistency_checks_total counter
jitterd_consistency_checks_total{result=\"consistent\"} 7
# TYPE jitterd_heartbeat_lateness_seconds histogram
jitterd_heartbeat_lateness_seconds_bucket{le=\"0.001\"} 5
jitterd_heartbeat_lateness_seconds_bucket{le=\"+Inf\"} 7
jitterd_heartbeat_lateness_seconds_sum 0.01
jitterd_heartbeat_lateness_seconds_count 7
";

    #[test]
    fn a_present_series_reads_its_value() {
        let m = Metrics::parse(SCRAPE);
        assert_eq!(m.get("jitterd_heartbeats_total"), 7.0);
        assert_eq!(m.get("jitterd_heartbeat_missed_total"), 0.0);
        assert_eq!(m.get("jitterd_consistency_checks_total{result=\"consistent\"}"), 7.0);
        assert_eq!(m.count_above("jitterd_heartbeat_lateness_seconds", "0.001"), 2.0);
    }

    #[test]
    #[should_panic(expected = "series jitterd_typo is not in the scrape")]
    fn a_typo_fails_instead_of_reading_zero() {
        let _ = Metrics::parse(SCRAPE).get("jitterd_typo");
    }

    #[test]
    #[should_panic(expected = "starting with jitterd_heartbeat:\n  jitterd_heartbeat_lateness_seconds_bucket")]
    fn an_absent_series_lists_its_neighbours() {
        let _ = Metrics::parse(SCRAPE).get("jitterd_heartbeat_total");
    }

    #[test]
    #[should_panic(expected = "jitterd_consistency_checks_total{result=\"consistent\"}")]
    fn an_absent_label_value_lists_the_family() {
        let _ = Metrics::parse(SCRAPE).get("jitterd_consistency_checks_total{result=\"inconsistent\"}");
    }

    #[test]
    #[should_panic(expected = "holds no series at all")]
    fn an_empty_scrape_says_so() {
        let _ = Metrics::parse("").get("jitterd_heartbeats_total");
    }

    #[test]
    #[should_panic(expected = "the bounds of jitterd_heartbeat_lateness_seconds are: +Inf 0.001")]
    fn a_bucket_bound_that_is_not_exported_fails() {
        let _ = Metrics::parse(SCRAPE).count_above("jitterd_heartbeat_lateness_seconds", "0.002");
    }

    #[test]
    fn absent_or_zero_is_explicit() {
        let m = Metrics::parse(SCRAPE);
        assert_eq!(m.value_or_zero("jitterd_consistency_checks_total{result=\"inconsistent\"}"), 0.0);
        assert_eq!(m.value_or_zero("jitterd_heartbeats_total"), 7.0);
    }
}
