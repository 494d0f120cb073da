//! The query parameters of `/api/v1/`, parsed strictly: a typo or a value
//! out of range gets a 400 whose one line names the parameter and what is
//! valid, rather than a silently different answer.

use crate::endpoints;
use crate::experiment::Heartbeat;
use crate::observe::RING_CAPACITY as CAPACITY;

/// `GET /api/v1/beats?heartbeat=main|control&after=K&limit=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BeatsQuery {
    pub heartbeat: Heartbeat,
    /// Slots with a higher index than this (0: all the ring holds).
    pub after: u64,
    /// At most this many, the newest (1 to [`CAPACITY`]).
    pub limit: usize,
}

/// A parameter that is unknown, repeated, or has a value that is not valid;
/// the message is one line, for a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadQuery(pub String);

/// Parameter names and values are quoted in messages, cut to this length.
const QUOTED_MAX: usize = 40;

fn quoted(text: &str) -> String {
    let cut: String = text.chars().take(QUOTED_MAX).collect();
    let ellipsis = if cut.len() < text.len() { "…" } else { "" };
    format!("{cut:?}{ellipsis}")
}

/// The `name=value` pairs of `query`, each name one of `allowed` and given
/// at most once. `endpoint` and `takes` word the message.
fn pairs<'q>(query: Option<&'q str>, endpoint: &str, allowed: &[&str]) -> Result<Vec<(&'q str, &'q str)>, BadQuery> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for piece in query.unwrap_or("").split('&').filter(|piece| !piece.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        if !allowed.contains(&name) {
            let takes = if allowed.is_empty() { "no parameters".to_owned() } else { allowed.join(", ") };
            return Err(BadQuery(format!("unknown parameter {}: {endpoint} takes {takes}", quoted(name))));
        }
        if pairs.iter().any(|(seen, _)| *seen == name) {
            return Err(BadQuery(format!("parameter {name} is given more than once")));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// A request that takes no parameters, such as `/api/v1/status`.
pub(crate) fn no_parameters(query: Option<&str>, endpoint: &str) -> Result<(), BadQuery> {
    pairs(query, endpoint, &[]).map(|_| ())
}

fn heartbeat(value: &str) -> Result<Heartbeat, BadQuery> {
    match value {
        "main" => Ok(Heartbeat::Main),
        "control" => Ok(Heartbeat::Control),
        other => Err(BadQuery(format!("parameter heartbeat: {} is not valid; use main or control", quoted(other)))),
    }
}

/// `heartbeat` alone, as `/api/v1/chart.svg` takes it (main by default).
pub(crate) fn chart(query: Option<&str>) -> Result<Heartbeat, BadQuery> {
    let mut chosen = Heartbeat::Main;
    for (_, value) in pairs(query, endpoints::CHART, &["heartbeat"])? {
        chosen = heartbeat(value)?;
    }
    Ok(chosen)
}

pub(crate) fn beats(query: Option<&str>) -> Result<BeatsQuery, BadQuery> {
    let mut parsed = BeatsQuery { heartbeat: Heartbeat::Main, after: 0, limit: CAPACITY };
    for (name, value) in pairs(query, endpoints::BEATS, &["heartbeat", "after", "limit"])? {
        match name {
            "heartbeat" => parsed.heartbeat = heartbeat(value)?,
            "after" => {
                parsed.after = value.parse().map_err(|_| {
                    BadQuery(format!(
                        "parameter after: {} is not valid; use a slot index, a whole number from 0 (the default: every slot held)",
                        quoted(value)
                    ))
                })?;
            }
            _ => {
                parsed.limit = value.parse().ok().filter(|n| (1..=CAPACITY).contains(n)).ok_or_else(|| {
                    BadQuery(format!(
                        "parameter limit: {} is not valid; use a whole number from 1 to {CAPACITY} (the default)",
                        quoted(value)
                    ))
                })?;
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<impl std::fmt::Debug, BadQuery>) -> String {
        match result {
            Ok(value) => panic!("accepted: {value:?}"),
            Err(BadQuery(message)) => message,
        }
    }

    #[test]
    fn defaults_and_values() {
        let all = BeatsQuery { heartbeat: Heartbeat::Main, after: 0, limit: CAPACITY };
        assert_eq!(beats(None), Ok(all));
        assert_eq!(beats(Some("")), Ok(all));
        let query = beats(Some("heartbeat=control&after=18446744073709551615&limit=1"));
        assert_eq!(query, Ok(BeatsQuery { heartbeat: Heartbeat::Control, after: u64::MAX, limit: 1 }));
        assert_eq!(chart(Some("heartbeat=control")), Ok(Heartbeat::Control));
        assert_eq!(no_parameters(None, "/api/v1/status"), Ok(()));
    }

    #[test]
    fn bad_parameters_are_named_with_what_is_valid() {
        let cases = [
            ("after=-1", "parameter after: \"-1\" is not valid; use a slot index"),
            ("after=", "parameter after: \"\" is not valid"),
            ("after", "parameter after: \"\" is not valid"),
            ("limit=0", "parameter limit: \"0\" is not valid; use a whole number from 1 to 1000"),
            ("limit=1001", "from 1 to 1000"),
            ("heartbeat=Main", "parameter heartbeat: \"Main\" is not valid; use main or control"),
            ("limt=5", "unknown parameter \"limt\": /api/v1/beats takes heartbeat, after, limit"),
            ("after=1&after=2", "parameter after is given more than once"),
        ];
        for (query, expected) in cases {
            let text = message(beats(Some(query)));
            assert!(text.contains(expected), "{query}: {text}");
            assert!(!text.contains('\n'), "{query}: one line");
        }
        let text = message(no_parameters(Some("x=1"), "/api/v1/status"));
        assert_eq!(text, "unknown parameter \"x\": /api/v1/status takes no parameters");
        let long = "y".repeat(500);
        assert!(message(chart(Some(&long))).len() < 120);
    }
}
