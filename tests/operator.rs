//! The operator's last mile (issue 18): HTTP limit keys, the served
//! runbook, the man page, config errors that name what is valid, and a
//! reload that changes nothing resetting nothing.
