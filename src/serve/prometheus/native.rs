//! Native histogram buckets in the protobuf exposition.
//!
//! A native histogram's bucket `i` at schema `s` holds the values in
//! `(2^((i−1)·2^−s), 2^(i·2^−s)]`; a bucket of a finer schema lies inside
//! exactly one bucket of a coarser one, so counts kept at one schema are
//! exported at any coarser schema exactly ([`coarser`], as Prometheus
//! reduces resolution). Counts are never re-binned from the classic buckets:
//! their bounds (1 µs · 2^(k/4), rounded to three digits) do not line up
//! with any schema's, so spreading them would invent a resolution the data
//! does not have. The observatory counts every slot's lateness into native
//! buckets itself, and this module only turns those counts into the wire
//! form: schema, zero bucket, spans and deltas.
//!
//! The `prometheus` crate's generated `Histogram` has no native fields, but
//! it keeps unknown fields and its encoder writes them; so the native fields
//! are added as unknown fields with the numbers of the official
//! `io/prometheus/client/metrics.proto` ([`field`]). The text encoder never
//! looks at them, so the text exposition is unchanged.

use prometheus::proto::Histogram;
use protobuf::Message;

/// The native schemas Prometheus knows: growth `2^(2^−schema)` from 65536
/// (−4) down to 1.0027 (8).
pub(crate) const SCHEMAS: std::ops::RangeInclusive<i8> = -4..=8;

/// The zero bucket's width, as client_golang's default: 2^−128. Lateness is
/// counted in whole nanoseconds, so only a lateness of exactly 0 lands in it.
pub(crate) const ZERO_THRESHOLD: f64 = f64::from_bits((1023 - 128) << 52);

/// Field numbers of `io.prometheus.client.Histogram` and `BucketSpan`.
mod field {
    pub(super) const SCHEMA: u32 = 5;
    pub(super) const ZERO_THRESHOLD: u32 = 6;
    pub(super) const ZERO_COUNT: u32 = 7;
    pub(super) const POSITIVE_SPAN: u32 = 12;
    pub(super) const POSITIVE_DELTA: u32 = 13;
    pub(super) const SPAN_OFFSET: u32 = 1;
    pub(super) const SPAN_LENGTH: u32 = 2;
}

/// The schema for a bucket factor, as client_golang's `pickSchema`: the
/// widest buckets whose growth `2^(2^−schema)` is at most `factor` (1.1:
/// schema 3, growth 1.0905; schema 2's 1.189 would not fit), within
/// [`SCHEMAS`] (a factor under schema 8's 1.0027 gets schema 8).
pub(crate) fn schema_for(factor: f64) -> i8 {
    let floor = factor.log2().log2().floor();
    if floor <= -f64::from(*SCHEMAS.end()) {
        *SCHEMAS.end()
    } else if floor >= -f64::from(*SCHEMAS.start()) {
        *SCHEMAS.start()
    } else {
        -(floor as i8)
    }
}

/// The index at a schema `by` steps coarser of the bucket with `index`.
pub(crate) fn coarser(index: i32, by: u32) -> i32 {
    ((index - 1) >> by) + 1
}

/// Native counts of one histogram as the observatory keeps them: the
/// schema they were counted at, the zero bucket, and each bucket's
/// `(index, count)` in increasing index order (empty buckets may be left
/// out or given as 0).
pub(crate) struct NativeCounts<I> {
    pub schema: i8,
    pub zero_count: u64,
    pub buckets: I,
}

/// One run of consecutive buckets: `offset` empty buckets after the last
/// run (for the first run, its first index), then `length` buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub offset: i32,
    pub length: u32,
}

/// Native buckets in the wire's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub schema: i8,
    pub zero_count: u64,
    pub spans: Vec<Span>,
    /// Each bucket's count minus the previous bucket's (0 before the first).
    pub deltas: Vec<i64>,
}

/// Gaps of up to this many empty buckets are written as zero deltas rather
/// than a new span, which would take more bytes (as client_golang does).
const MAX_FILLED_GAP: i32 = 2;

/// `counts` at `schema`. A finer schema than the counted one cannot be made
/// from its counts, so the counted one caps it.
pub(crate) fn encode(counts: NativeCounts<impl Iterator<Item = (i32, u64)>>, schema: i8) -> Encoded {
    let schema = schema.min(counts.schema);
    let by = u32::from(counts.schema.abs_diff(schema));
    let mut spans = Spans {
        encoded: Encoded { schema, zero_count: counts.zero_count, spans: Vec::new(), deltas: Vec::new() },
        last: (0, 0),
    };
    // The counted buckets that share a bucket at `schema` come one after
    // another: sum them, and write each sum once its bucket is complete.
    let mut pending: Option<(i32, u64)> = None;
    for (index, count) in counts.buckets.filter(|&(_, count)| count > 0) {
        let index = coarser(index, by);
        match &mut pending {
            Some((pending_index, sum)) if *pending_index == index => *sum += count,
            _ => {
                if let Some((index, sum)) = pending.replace((index, count)) {
                    spans.push(index, sum);
                }
            }
        }
    }
    if let Some((index, sum)) = pending {
        spans.push(index, sum);
    }
    spans.encoded
}

/// Spans and deltas, written bucket by bucket in increasing index order.
struct Spans {
    encoded: Encoded,
    /// The index and count of the last bucket written.
    last: (i32, u64),
}

impl Spans {
    fn push(&mut self, index: i32, count: u64) {
        let (last_index, mut last_count) = self.last;
        let gap = index - last_index - 1;
        let encoded = &mut self.encoded;
        match encoded.spans.last_mut() {
            Some(span) if gap <= MAX_FILLED_GAP => {
                span.length += gap as u32 + 1;
                for _ in 0..gap {
                    encoded.deltas.push(-(last_count as i64));
                    last_count = 0;
                }
            }
            Some(_) => encoded.spans.push(Span { offset: gap, length: 1 }),
            None => encoded.spans.push(Span { offset: index, length: 1 }),
        }
        encoded.deltas.push(count as i64 - last_count as i64);
        self.last = (index, count);
    }
}

/// Adds `native`'s fields to `histogram`, beside its classic buckets.
pub(crate) fn add_to(histogram: &mut Histogram, native: &Encoded) {
    let fields = histogram.mut_unknown_fields();
    fields.add_varint(field::SCHEMA, zigzag(i64::from(native.schema)));
    fields.add_fixed64(field::ZERO_THRESHOLD, ZERO_THRESHOLD.to_bits());
    fields.add_varint(field::ZERO_COUNT, native.zero_count);
    for span in &native.spans {
        let mut message = Vec::with_capacity(12);
        varint_field(&mut message, field::SPAN_OFFSET, zigzag(i64::from(span.offset)));
        varint_field(&mut message, field::SPAN_LENGTH, u64::from(span.length));
        fields.add_length_delimited(field::POSITIVE_SPAN, message);
    }
    for &delta in &native.deltas {
        fields.add_varint(field::POSITIVE_DELTA, zigzag(delta));
    }
}

/// `sint32` and `sint64`'s ZigZag encoding (a `sint32`'s is the same number).
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    varint(out, u64::from(number) << 3);
    varint(out, value);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests;
