//! Native histograms (issue 18): protobuf when the scraper prefers it, text
//! byte for byte otherwise, and a real Prometheus that reads both.
//!
//! The protobuf answer is read with the `prometheus` crate's generated
//! `MetricFamily` through protobuf's own `CodedInputStream` (varint length,
//! then the message), and its native fields with a decoder written here
//! from `io/prometheus/client/metrics.proto`, not from jitterd's encoder.
//! The text answers are held to the golden shape of `tests/exposition.rs`.
//! End to end, Debian's Prometheus 2.42 with `--enable-feature=native-histograms`
//! scrapes jitterd and its queries are the oracle.

use crate::common;
use crate::exposition;

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus::proto::{Histogram, MetricFamily, MetricType};
use protobuf::{CodedInputStream, Message, UnknownValueRef};

use crate::common::{Daemon, Metrics};

mod e2e;

/// What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
pub(crate) const PROMETHEUS_PROTOBUF: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                                              encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
const PROTOBUF_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
const TEXT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The per-slot lateness histograms, which carry native buckets.
const NATIVE: [&str; 2] = ["jitterd_heartbeat_lateness_seconds", "jitterd_control_lateness_seconds"];

/// One answer from `/metrics`.
struct Answer {
    content_type: String,
    vary: String,
    body: Vec<u8>,
}

/// GET `/metrics` with `accept` as the Accept header (none when `None`).
fn fetch(daemon: &Daemon, accept: Option<&str>) -> Answer {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder().method("GET").uri(daemon.url("/metrics"));
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let mut response = agent.run(request.body(()).expect("request")).expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200, "GET /metrics with Accept {accept:?}");
    let header =
        |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let (content_type, vary) = (header("content-type"), header("vary"));
    let body = response.body_mut().read_to_vec().expect("body");
    Answer { content_type, vary, body }
}

/// The delimited protobuf format: a varint length, then a `MetricFamily`, again and again.
fn decode(body: &[u8]) -> Vec<MetricFamily> {
    let mut input = CodedInputStream::from_bytes(body);
    let mut families = Vec::new();
    while !input.eof().expect("read") {
        families.push(input.read_message::<MetricFamily>().expect("a length-delimited MetricFamily"));
    }
    assert!(!families.is_empty(), "an empty protobuf answer");
    families
}

/// The native part of a histogram, from its fields as metrics.proto numbers them.
#[derive(Debug, Default)]
struct Native {
    schema: Option<i32>,
    zero_threshold: Option<f64>,
    zero_count: u64,
    /// Positive buckets: index → count.
    buckets: BTreeMap<i32, u64>,
}

impl Native {
    /// Whether the histogram has a native part at all.
    fn present(&self) -> bool {
        self.schema.is_some()
    }

    fn count(&self) -> u64 {
        self.zero_count + self.buckets.values().sum::<u64>()
    }

    /// Bucket `index`'s bounds in seconds: `(2^((i−1)/2^s), 2^(i/2^s)]`.
    fn bounds(&self, index: i32) -> (f64, f64) {
        let width = 2f64.powi(-self.schema.expect("schema"));
        (2f64.powf(f64::from(index - 1) * width), 2f64.powf(f64::from(index) * width))
    }
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Reads schema (5), zero threshold (6), zero count (7), positive spans (12)
/// and deltas (13, packed or not); negative buckets (9, 10) must be absent.
fn native(histogram: &Histogram) -> Native {
    let (mut native, mut spans, mut deltas) = (Native::default(), Vec::new(), Vec::new());
    for (number, value) in histogram.unknown_fields().iter() {
        match (number, value) {
            (5, UnknownValueRef::Varint(v)) => native.schema = Some(unzigzag(v) as i32),
            (6, UnknownValueRef::Fixed64(bits)) => native.zero_threshold = Some(f64::from_bits(bits)),
            (7, UnknownValueRef::Varint(v)) => native.zero_count = v,
            (12, UnknownValueRef::LengthDelimited(bytes)) => spans.push(span(bytes)),
            (13, UnknownValueRef::Varint(v)) => deltas.push(unzigzag(v)),
            (13, UnknownValueRef::LengthDelimited(bytes)) => {
                let mut packed = CodedInputStream::from_bytes(bytes);
                while !packed.eof().expect("packed deltas") {
                    deltas.push(packed.read_sint64().expect("a delta"));
                }
            }
            other => panic!("unexpected histogram field {other:?}"),
        }
    }
    let (mut index, mut count, mut deltas) = (0i32, 0i64, deltas.into_iter());
    for (n, (offset, length)) in spans.into_iter().enumerate() {
        index += offset + i32::from(n > 0);
        for k in 0..length {
            index += i32::from(k > 0);
            count += deltas.next().expect("a delta for every bucket");
            assert!(count >= 0, "negative count in bucket {index}");
            if count > 0 {
                native.buckets.insert(index, count as u64);
            }
        }
    }
    assert_eq!(deltas.next(), None, "more deltas than buckets");
    native
}

/// A `BucketSpan`: offset (1, sint32) and length (2, uint32).
fn span(bytes: &[u8]) -> (i32, u32) {
    let mut input = CodedInputStream::from_bytes(bytes);
    let (mut offset, mut length) = (0, 0);
    while let Some(tag) = input.read_raw_tag_or_eof().expect("span tag") {
        match tag >> 3 {
            1 => offset = input.read_sint32().expect("offset"),
            2 => length = input.read_uint32().expect("length"),
            other => panic!("unexpected span field {other}"),
        }
    }
    (offset, length)
}

fn family<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
    families.iter().find(|f| f.name() == name).unwrap_or_else(|| panic!("{name} missing from the protobuf answer"))
}

fn counter(families: &[MetricFamily], name: &str) -> f64 {
    family(families, name).get_metric()[0].get_counter().value()
}

fn histogram<'a>(families: &'a [MetricFamily], name: &str) -> &'a Histogram {
    let family = family(families, name);
    assert_eq!(family.get_field_type(), MetricType::HISTOGRAM, "{name}");
    family.get_metric()[0].get_histogram()
}

/// The family names and types of a text exposition, in order.
fn text_families(text: &str) -> Vec<String> {
    text.lines().filter_map(|line| line.strip_prefix("# TYPE ")).map(str::to_owned).collect()
}

fn start(config: &str) -> Daemon {
    let daemon = Daemon::start(config);
    daemon.wait_for_metrics(Duration::from_secs(10), "three beats", |m| m.get("jitterd_heartbeats_total") >= 3.0);
    daemon
}

#[test]
fn a_scraper_that_prefers_protobuf_gets_every_family_in_it() {
    let daemon = start(exposition::CONFIG);
    let answer = fetch(&daemon, Some(PROMETHEUS_PROTOBUF));
    assert_eq!((answer.content_type.as_str(), answer.vary.as_str()), (PROTOBUF_TYPE, "Accept"));
    let families = decode(&answer.body);
    // The same families, types and order as the text answer.
    let text = String::from_utf8(fetch(&daemon, None).body).expect("UTF-8");
    let types = families.iter().map(|f| {
        let kind = match f.get_field_type() {
            MetricType::COUNTER => "counter",
            MetricType::GAUGE => "gauge",
            MetricType::SUMMARY => "summary",
            MetricType::HISTOGRAM => "histogram",
            MetricType::UNTYPED => "untyped",
        };
        format!("{} {kind}", f.name())
    });
    assert_eq!(types.collect::<Vec<_>>(), text_families(&text));
    // One moment: every slot counted once, in classic buckets as in text.
    let slots = counter(&families, "jitterd_heartbeats_total") + counter(&families, "jitterd_heartbeat_missed_total");
    let lateness = histogram(&families, NATIVE[0]);
    assert_eq!(lateness.sample_count() as f64, slots);
    assert!(
        lateness.get_bucket().len() == 105 && lateness.get_bucket()[104].cumulative_count() <= lateness.sample_count()
    );
}

#[test]
fn native_buckets_count_every_slot_the_classic_ones_count() {
    let daemon = start(exposition::CONFIG);
    let families = decode(&fetch(&daemon, Some(PROMETHEUS_PROTOBUF)).body);
    let slots = counter(&families, "jitterd_heartbeats_total") + counter(&families, "jitterd_heartbeat_missed_total");
    for name in NATIVE {
        let histogram = histogram(&families, name);
        let native = native(histogram);
        assert!(native.present(), "{name}: no native part");
        assert_eq!(native.schema, Some(3), "{name}: the default factor 1.1 is schema 3");
        assert_eq!(native.zero_threshold, Some(2f64.powi(-128)), "{name}");
        assert_eq!(native.count(), histogram.sample_count(), "{name}: {native:?}");
        assert!(native.count() > 0, "{name}: no slot counted");
        agrees_with_classic(name, &native, histogram);
    }
    assert_eq!(histogram(&families, NATIVE[0]).sample_count() as f64, slots);
    // Only those two: every other histogram is classic.
    for family in families.iter().filter(|f| f.get_field_type() == MetricType::HISTOGRAM) {
        let has_native = native(family.get_metric()[0].get_histogram()).present();
        assert_eq!(has_native, NATIVE.contains(&family.name()), "{}", family.name());
    }
}

/// Both parts count the same slots, so at every classic bound `le` the
/// native buckets wholly at or below it hold at most the classic count, and
/// those reaching below it at least.
fn agrees_with_classic(name: &str, native: &Native, histogram: &Histogram) {
    for bucket in histogram.get_bucket() {
        let le = bucket.upper_bound();
        let below: u64 = native.buckets.iter().filter(|(i, _)| native.bounds(**i).1 <= le).map(|(_, c)| c).sum();
        let reaching: u64 = native.buckets.iter().filter(|(i, _)| native.bounds(**i).0 < le).map(|(_, c)| c).sum();
        let classic = bucket.cumulative_count();
        assert!(
            native.zero_count + below <= classic && classic <= native.zero_count + reaching,
            "{name} le={le}: classic {classic}, native {below}..={reaching}"
        );
    }
}

#[test]
fn everyone_else_gets_the_text_they_got_before() {
    let daemon = start(exposition::CONFIG);
    for accept in [
        None,
        Some("*/*"),
        Some("text/plain;version=0.0.4"),
        Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        // Prometheus without the feature flag: OpenMetrics first, which jitterd does not write.
        Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
             text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
        // A scraper that ranks text above protobuf.
        Some(
            "text/plain;version=0.0.4;q=0.9,\
             application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5",
        ),
    ] {
        let answer = fetch(&daemon, accept);
        assert_eq!((answer.content_type.as_str(), answer.vary.as_str()), (TEXT_TYPE, "Accept"), "{accept:?}");
        let text = String::from_utf8(answer.body).expect("UTF-8");
        common::assert_golden("exposition.txt", exposition::HEADER, &exposition::shape(&text));
        Metrics::parse(&text).get("jitterd_heartbeats_total");
    }
}

#[test]
fn with_native_histograms_off_even_protobuf_scrapers_get_text() {
    let config = format!("{}[metrics]\nnative_histograms = false\n", exposition::CONFIG);
    let daemon = start(&config);
    for accept in [Some(PROMETHEUS_PROTOBUF), None] {
        let answer = fetch(&daemon, accept);
        assert_eq!((answer.content_type.as_str(), answer.vary.as_str()), (TEXT_TYPE, "Accept"), "{accept:?}");
        let text = String::from_utf8(answer.body).expect("UTF-8");
        common::assert_golden("exposition.txt", exposition::HEADER, &exposition::shape(&text));
    }
}

#[test]
fn the_decoder_reads_spans_and_deltas_as_metrics_proto_defines_them() {
    // Built by hand from the proto's definitions: schema 0, spans
    // {offset −2, length 2} and {offset 3, length 1}, deltas 4, −1, 2,
    // which are 4 in bucket −2, 3 in bucket −1, 5 in bucket 3; zero count 1.
    let mut histogram = Histogram::default();
    let fields = histogram.mut_unknown_fields();
    fields.add_varint(5, 0);
    fields.add_fixed64(6, 2f64.powi(-128).to_bits());
    fields.add_varint(7, 1);
    fields.add_length_delimited(12, vec![0x08, 3, 0x10, 2]);
    fields.add_length_delimited(12, vec![0x08, 6, 0x10, 1]);
    for delta in [8, 1, 4] {
        fields.add_varint(13, delta);
    }
    let bytes = histogram.write_to_bytes().expect("encodes");
    let native = native(&Histogram::parse_from_bytes(&bytes).expect("decodes"));
    assert_eq!(native.buckets, BTreeMap::from([(-2, 4), (-1, 3), (3, 5)]));
    assert_eq!((native.count(), native.bounds(3)), (13, (4.0, 8.0)));
}
