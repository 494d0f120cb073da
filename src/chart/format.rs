//! Numbers and text as the charts and tables print them: seconds for
//! people, ticks on an axis, text escaped for HTML and SVG.

/// Seconds with three significant digits and a unit that suits them.
pub fn human_seconds(value: f64) -> String {
    let sign = if value < 0.0 { "-" } else { "" };
    let abs = value.abs();
    let (scaled, unit) = match abs {
        0.0 => return "0".into(),
        a if a < 1e-6 => (a * 1e9, "ns"),
        a if a < 1e-3 => (a * 1e6, "µs"),
        a if a < 1.0 => (a * 1e3, "ms"),
        a => (a, "s"),
    };
    let digits = match scaled {
        s if s >= 99.95 => 0,
        s if s >= 9.995 => 1,
        _ => 2,
    };
    format!("{sign}{scaled:.digits$}{unit}")
}

/// Escapes text for HTML and SVG content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds on an axis: `10ms` rather than `10.0ms`.
pub fn tick_seconds(value: f64) -> String {
    let text = human_seconds(value);
    let digits_end = text.find(|c: char| c.is_alphabetic() || c == 'µ').unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.contains('.') { format!("{}{unit}", number.trim_end_matches('0').trim_end_matches('.')) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_for_people() {
        assert_eq!(human_seconds(0.0), "0");
        assert_eq!(human_seconds(850e-9), "850ns");
        assert_eq!(human_seconds(12.34e-6), "12.3µs");
        assert_eq!(human_seconds(1.234e-3), "1.23ms");
        assert_eq!(human_seconds(-0.25), "-250ms");
        assert_eq!(human_seconds(3.0), "3.00s");
        assert_eq!(human_seconds(999.99e-6), "1000µs");
    }

    #[test]
    fn tick_labels() {
        assert_eq!(tick_seconds(0.01), "10ms");
        assert_eq!(tick_seconds(2.5e-3), "2.5ms");
        assert_eq!(tick_seconds(-5e-3), "-5ms");
        assert_eq!(tick_seconds(1e-4), "100µs");
        assert_eq!(tick_seconds(0.0), "0");
    }
}
