//! The text of an HdrHistogram interval log, as jHiccup writes it and the
//! HdrHistogram log tools read it.
//!
//! A section opens with a header: comments naming the writer and the log
//! format version, `#[StartTime: …]`, `#[BaseTime: …]`, `#[MaxValueDivisor: …]`
//! and the legend line. Then one line per interval and tag:
//! `Tag=main,<start>,<length>,<max>,<histogram>`, where start is seconds
//! since BaseTime, length is seconds, max is in milliseconds (the values are
//! nanoseconds; jHiccup and HdrHistogram's `HistogramLogWriter` divide the
//! max by 10⁶ the same way) and the histogram is a base64 V2 deflate
//! encoding. The hdrhistogram crate's interval log writer and
//! `V2DeflateSerializer` write all of it but the legend.

use std::io;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::observe::IntervalHistogram;

/// Nanoseconds per millisecond: the unit of the max column.
const MAX_VALUE_DIVISOR: f64 = 1e6;

const LEGEND: &str = "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// A section's header: `start_time` is when this log began, `base_time`
/// what the section's interval timestamps count from.
pub(super) fn header(start_time: SystemTime, base_time: SystemTime) -> Vec<u8> {
    let mut text = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let begun = IntervalLogWriterBuilder::new()
        .add_comment(&format!("[Logged with jitterd {}]", crate::build::VERSION))
        .add_comment("[Histogram log format version 1.3]")
        .with_start_time(start_time)
        .with_base_time(base_time)
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(&mut text, &mut serializer)
        .map(drop);
    // Writing into a Vec cannot fail.
    debug_assert!(begun.is_ok());
    text.extend_from_slice(LEGEND.as_bytes());
    text
}

/// One line per `(tag, interval)`, timestamps counted from `base_time`.
pub(super) fn lines(
    intervals: &[(&str, &IntervalHistogram)],
    base_time: SystemTime,
    serializer: &mut V2DeflateSerializer,
) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(MAX_VALUE_DIVISOR)
            .begin_log_with(&mut text, serializer)?;
        for &(tag, interval) in intervals {
            let tag = Tag::new(tag).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("invalid interval log tag {tag:?}"))
            })?;
            let start = interval.start.duration_since(base_time).unwrap_or(Duration::ZERO);
            let length = interval.end.duration_since(interval.start).unwrap_or(Duration::ZERO);
            writer.write_histogram(&interval.histogram, start, length, Some(tag)).map_err(io::Error::other)?;
        }
    }
    // The builder opens with its settings as comments (the header has them already).
    while text.first() == Some(&b'#') {
        let line_end = text.iter().position(|&byte| byte == b'\n').map_or(text.len(), |newline| newline + 1);
        text.drain(..line_end);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;
    use crate::observe::new_histogram;

    fn interval(values_ns: &[u64], start: SystemTime, length: Duration) -> IntervalHistogram {
        let mut histogram = new_histogram();
        for &value in values_ns {
            histogram.record(value).expect("in range");
        }
        IntervalHistogram { histogram, start, end: start + length }
    }

    #[test]
    fn header_then_lines_read_back_with_the_crates_parser() {
        let start_time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let main =
            interval(&[20_000, 30_000, 1_500_000_000], start_time + Duration::from_secs(5), Duration::from_secs(5));
        let control = interval(&[], start_time + Duration::from_secs(5), Duration::from_secs(5));
        let mut text = header(start_time, start_time);
        let mut serializer = V2DeflateSerializer::new();
        text.extend(lines(&[("main", &main), ("control", &control)], start_time, &mut serializer).expect("renders"));
        let text = String::from_utf8(text).expect("UTF-8");

        let mut header_lines = text.lines();
        assert_eq!(header_lines.next(), Some(format!("#[Logged with jitterd {}]", crate::build::VERSION).as_str()));
        assert_eq!(header_lines.next(), Some("#[Histogram log format version 1.3]"));
        assert_eq!(header_lines.next(), Some("#[StartTime: 1700000000.250 (seconds since epoch)]"));
        assert_eq!(header_lines.next(), Some("#[BaseTime: 1700000000.250 (seconds since epoch)]"));
        assert_eq!(header_lines.next(), Some("#[MaxValueDivisor: 1000000.000]"));
        assert_eq!(header_lines.next(), Some(LEGEND.trim_end()));
        let main_line = header_lines.next().expect("main line");
        assert!(main_line.starts_with("Tag=main,5.000,5.000,1500.512,HISTF"), "{main_line}");
        assert!(header_lines.next().expect("control line").starts_with("Tag=control,5.000,5.000,0.000,HISTF"));
        assert_eq!(header_lines.next(), None);

        let mut entries = IntervalLogIterator::new(text.as_bytes());
        let start = Duration::from_millis(1_700_000_000_250);
        assert_eq!(entries.next(), Some(Ok(LogEntry::StartTime(start))));
        assert_eq!(entries.next(), Some(Ok(LogEntry::BaseTime(start))));
        let mut deserializer = Deserializer::new();
        for expected in [&main, &control] {
            let Some(Ok(LogEntry::Interval(line))) = entries.next() else { panic!("an interval line") };
            assert_eq!(line.start_timestamp(), Duration::from_secs(5));
            let decoded: Histogram<u64> = deserializer
                .deserialize(&mut base64_decode(line.encoded_histogram()).as_slice())
                .expect("a V2 deflate histogram");
            assert_eq!(decoded, expected.histogram);
        }
        assert_eq!(entries.next(), None);
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
    }
}
