//! Which format a scraper gets, from its Accept header.
//!
//! Two formats: the delimited protobuf one (the only one with a place for
//! native buckets) and text 0.0.4, which stays the answer for everyone who
//! does not prefer protobuf: curl, browsers, a missing or malformed header,
//! a Prometheus that asks for OpenMetrics first. As client_golang's
//! `expfmt.Negotiate` does, only the media ranges jitterd can serve count
//! (protobuf with `proto=io.prometheus.client.MetricFamily` and
//! `encoding=delimited`; `text/plain` unversioned or 0.0.4); wildcards and
//! other types are passed over, since text is the fallback anyway. The
//! highest `q` wins, the earlier range on a tie; `q=0` refuses a format.

/// The exposition formats jitterd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Protobuf,
}

/// The format `accept` prefers; text unless it prefers delimited protobuf.
pub(crate) fn preferred(accept: Option<&str>) -> Format {
    let Some(accept) = accept else { return Format::Text };
    let mut best: Option<(f64, Format)> = None;
    for range in accept.split(',') {
        let Some((format, q)) = served(range) else { continue };
        if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Text, |(_, format)| format)
}

/// The format one media range asks for and its `q`, when jitterd serves it.
fn served(range: &str) -> Option<(Format, f64)> {
    let mut parts = range.split(';');
    let media_type = parts.next()?.trim().to_ascii_lowercase();
    let (mut q, mut proto, mut encoding, mut version) = (1.0, None, None, None);
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "q" => q = quality(value)?,
            "proto" => proto = Some(value),
            "encoding" => encoding = Some(value),
            "version" => version = Some(value),
            _ => {}
        }
    }
    let format = match media_type.as_str() {
        "application/vnd.google.protobuf"
            if proto == Some("io.prometheus.client.MetricFamily") && encoding == Some("delimited") =>
        {
            Format::Protobuf
        }
        "text/plain" if version.is_none_or(|version| version == "0.0.4") => Format::Text,
        _ => return None,
    };
    Some((format, q))
}

/// A `q` value: a number from 0 to 1 (RFC 9110: at most three decimals,
/// which is not worth refusing a scraper over).
fn quality(value: &str) -> Option<f64> {
    let q: f64 = value.parse().ok()?;
    (0.0..=1.0).contains(&q).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTOBUF: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

    #[test]
    fn prometheus_with_native_histograms_gets_protobuf() {
        // What Prometheus 2.42 sends with --enable-feature=native-histograms.
        let header = format!("{PROTOBUF};q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2");
        assert_eq!(preferred(Some(&header)), Format::Protobuf);
        // As client_golang's own tests write it: spaces, quotes, any case.
        let spaced = "Application/Vnd.Google.Protobuf; proto=\"io.prometheus.client.MetricFamily\"; Encoding=delimited";
        assert_eq!(preferred(Some(spaced)), Format::Protobuf);
        assert_eq!(preferred(Some(PROTOBUF)), Format::Protobuf);
    }

    #[test]
    fn everyone_else_gets_text() {
        for header in [
            None,
            Some(""),
            Some("*/*"),
            // curl, a browser, Prometheus without the feature (OpenMetrics first).
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                 text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            ),
            Some("text/plain;version=0.0.4"),
        ] {
            assert_eq!(preferred(header), Format::Text, "{header:?}");
        }
    }

    #[test]
    fn q_values_decide_and_the_earlier_wins_a_tie() {
        let cases = [
            (format!("text/plain;q=0.5,{PROTOBUF};q=0.6"), Format::Protobuf),
            (format!("{PROTOBUF};q=0.5,text/plain;version=0.0.4;q=0.6"), Format::Text),
            (format!("{PROTOBUF};q=0.5,text/plain;q=0.5"), Format::Protobuf),
            (format!("text/plain;q=0.5,{PROTOBUF};q=0.5"), Format::Text),
            // Wildcards and types jitterd does not serve do not count.
            (format!("*/*;q=1,{PROTOBUF};q=0.1"), Format::Protobuf),
            (format!("application/json,{PROTOBUF};q=0.1"), Format::Protobuf),
            // q=0 refuses; so does a range protobuf without its parameters.
            (format!("{PROTOBUF};q=0"), Format::Text),
            ("application/vnd.google.protobuf".to_owned(), Format::Text),
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text".to_owned(),
                Format::Text,
            ),
            // A text version jitterd does not write is passed over.
            (format!("text/plain;version=1.0.0,{PROTOBUF};q=0.2"), Format::Protobuf),
        ];
        for (header, expected) in cases {
            assert_eq!(preferred(Some(&header)), expected, "{header}");
        }
    }

    #[test]
    fn a_malformed_range_is_passed_over() {
        for header in [
            format!("{PROTOBUF};q=high"),
            format!("{PROTOBUF};q=2"),
            format!("{PROTOBUF};garbage"),
            format!("{PROTOBUF};q=-1"),
        ] {
            assert_eq!(preferred(Some(&header)), Format::Text, "{header}");
        }
        assert_eq!(preferred(Some(&format!("text/plain;q=x,{PROTOBUF};q=0.1"))), Format::Protobuf);
    }
}
