//! The schema choice, the reduction between schemas and the wire form,
//! each against an oracle written from the definitions (bucket bounds as
//! exponents of 2, a decoder of spans and deltas), not from the code.

use std::collections::BTreeMap;

use protobuf::Message;
use protobuf::UnknownValueRef;

use super::*;

/// Bucket `index` → count, as spans and deltas say, read as the
/// Prometheus docs describe them.
fn expand(spans: &[Span], deltas: &[i64]) -> BTreeMap<i32, u64> {
    let (mut buckets, mut index, mut count, mut deltas) = (BTreeMap::new(), 0, 0i64, deltas.iter());
    for (n, span) in spans.iter().enumerate() {
        index += span.offset + if n == 0 { 0 } else { 1 };
        for k in 0..span.length {
            index += i32::from(k > 0);
            count += deltas.next().expect("a delta per bucket");
            assert!(count >= 0, "negative count at {index}");
            if count > 0 {
                buckets.insert(index, count as u64);
            }
        }
    }
    assert_eq!(deltas.next(), None, "more deltas than buckets");
    buckets
}

fn encoded(schema: i8, buckets: &[(i32, u64)], to: i8) -> Encoded {
    encode(NativeCounts { schema, zero_count: 0, buckets: buckets.iter().copied() }, to)
}

#[test]
fn the_schema_is_the_coarsest_whose_growth_fits_the_factor() {
    for (factor, schema) in [
        (1.1, 3),
        (1.0906, 3),
        (1.09, 4),
        (1.05, 4),
        (1.01, 7),
        (1.001, 8),
        (1.0001, 8),
        (2.0, 0),
        (2.5, 0),
        (4.0, -1),
        (65536.0, -4),
        (1e12, -4),
    ] {
        assert_eq!(schema_for(factor), schema, "factor {factor}");
    }
    // The growth fits, and the next coarser schema's would not (unless the
    // coarsest is reached): the widest buckets the factor allows, over a
    // sweep of factors.
    let growth = |schema: i8| 2f64.powf(2f64.powi(-i32::from(schema)));
    for step in 1..=2000 {
        let factor = 1.0 + f64::from(step) * 0.0007;
        let schema = schema_for(factor);
        assert!(SCHEMAS.contains(&schema));
        // Below schema 8's growth (1.0027) the finest schema is all there is.
        let finest = schema == *SCHEMAS.end();
        assert!(growth(schema) <= factor * (1.0 + 1e-12) || finest, "{factor}: schema {schema}");
        let coarsest = schema == *SCHEMAS.start();
        assert!(coarsest || growth(schema - 1) > factor / (1.0 + 1e-12), "{factor}: {schema}");
    }
}

#[test]
fn a_coarser_bucket_holds_the_finer_one_whole() {
    // Bucket i at schema s spans exponents ((i−1)/2^s, i/2^s]; bucket j, `by`
    // steps coarser, spans ((j−1)·2^by/2^s, j·2^by/2^s]. Compare numerators.
    for by in 0..=12u32 {
        for index in -300..=300 {
            let j = coarser(index, by);
            let width = 1i64 << by;
            assert!((i64::from(j) - 1) * width < i64::from(index), "{index} by {by} → {j}");
            assert!(i64::from(index) <= i64::from(j) * width, "{index} by {by} → {j}");
        }
    }
    assert_eq!(
        [coarser(0, 2), coarser(1, 2), coarser(4, 2), coarser(5, 2), coarser(-3, 2), coarser(-4, 2)],
        [0, 1, 1, 2, 0, -1]
    );
}

#[test]
fn an_empty_histogram_has_no_spans() {
    let empty = encoded(5, &[], 3);
    assert_eq!(empty, Encoded { schema: 3, zero_count: 0, spans: vec![], deltas: vec![] });
    // Buckets given as 0 are empty too.
    assert_eq!(encoded(5, &[(4, 0), (9, 0)], 3), empty);
}

#[test]
fn a_single_bucket_is_one_span() {
    assert_eq!(
        encoded(3, &[(-170, 7)], 3),
        Encoded { schema: 3, zero_count: 0, spans: vec![Span { offset: -170, length: 1 }], deltas: vec![7] }
    );
}

#[test]
fn small_gaps_are_filled_and_large_ones_start_a_span() {
    let buckets = [(0, 2), (1, 3), (3, 1), (6, 5), (10, 4), (11, 4)];
    let native = encoded(3, &buckets, 3);
    assert_eq!(native.spans, [Span { offset: 0, length: 7 }, Span { offset: 3, length: 2 }]);
    assert_eq!(native.deltas, [2, 1, -3, 1, -1, 0, 5, -1, 0]);
    assert_eq!(expand(&native.spans, &native.deltas), buckets.into_iter().collect());
}

#[test]
fn the_zero_bucket_is_kept_apart() {
    let native = encode(NativeCounts { schema: 5, zero_count: 4, buckets: [(-900, 1)].into_iter() }, 3);
    assert_eq!((native.zero_count, native.spans.len()), (4, 1));
    assert_eq!(ZERO_THRESHOLD, 2f64.powi(-128));
}

#[test]
fn reduced_counts_are_the_sums_of_the_finer_buckets() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |bound: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound
    };
    for round in 0..200 {
        let counted = 5;
        let mut index = -960 + next(200) as i32;
        let mut buckets = Vec::new();
        for _ in 0..next(60) {
            index += 1 + next(if round % 2 == 0 { 3 } else { 40 }) as i32;
            buckets.push((index, next(1000)));
        }
        for schema in [-4, 0, 2, 3, 5, 8] {
            let native = encoded(counted, &buckets, schema);
            let by = u32::from(counted.abs_diff(schema.min(counted)));
            let mut expected = BTreeMap::new();
            for &(index, count) in buckets.iter().filter(|b| b.1 > 0) {
                *expected.entry(coarser(index, by)).or_insert(0) += count;
            }
            assert_eq!(native.schema, schema.min(counted));
            assert_eq!(expand(&native.spans, &native.deltas), expected, "{buckets:?} at {schema}");
        }
    }
}

#[test]
fn the_fields_are_written_with_the_official_numbers() {
    let mut histogram = prometheus::proto::Histogram::default();
    histogram.set_sample_count(10);
    let native = Encoded {
        schema: -2,
        zero_count: 3,
        spans: vec![Span { offset: -5, length: 2 }, Span { offset: 300, length: 1 }],
        deltas: vec![4, -2, 3],
    };
    add_to(&mut histogram, &native);
    // Through the wire and back: the generated type keeps what it does not know.
    let bytes = histogram.write_to_bytes().expect("encodes");
    let decoded = prometheus::proto::Histogram::parse_from_bytes(&bytes).expect("decodes");
    assert_eq!(decoded.sample_count(), 10);
    let (mut spans, mut deltas, mut scalars) = (Vec::new(), Vec::new(), BTreeMap::new());
    for (number, value) in decoded.unknown_fields().iter() {
        match (number, value) {
            (12, UnknownValueRef::LengthDelimited(bytes)) => spans.push(bytes.to_vec()),
            (13, UnknownValueRef::Varint(v)) => deltas.push(unzigzag(v)),
            (5 | 7, UnknownValueRef::Varint(v)) => _ = scalars.insert(number, v),
            (6, UnknownValueRef::Fixed64(bits)) => _ = scalars.insert(number, bits),
            other => panic!("unexpected field {other:?}"),
        }
    }
    assert_eq!(scalars[&5], 3, "schema −2 as sint32");
    assert_eq!(f64::from_bits(scalars[&6]), 2f64.powi(-128));
    assert_eq!(scalars[&7], 3);
    // BucketSpan {offset: sint32 = 1, length: uint32 = 2}: −5 is ZigZag 9, 300 is 600.
    assert_eq!(spans, [vec![0x08, 9, 0x10, 2], vec![0x08, 0xd8, 0x04, 0x10, 1]]);
    assert_eq!(deltas, [4, -2, 3]);
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}
