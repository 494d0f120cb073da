//! The integration tests, as one binary (ripgrep's layout): each module
//! is a file beside this one and talks to the real `jitterd` binary over
//! real HTTP and real signals. Tests that measure time or load the machine
//! (a daemon's counter, wrk, the container image's build) take
//! [`common::alone`], so they never share the two cores with each other.

mod browser;
mod common;
mod containerfile;

mod bad_input;
mod cli_config;
mod compare;
mod container;
mod deploy;
mod duty_cycle;
mod explain;
mod exposition;
mod http;
mod http_hardening;
mod http_limits;
mod interval_log_python;
mod lifecycle;
mod live;
mod mixin;
mod native_histograms;
mod operator;
mod prometheus_e2e;
mod prometheus_rules;
mod reload_storm;
mod scripts;
mod stop_anytime;
mod strategies;
mod systemd;
mod truth;
mod tuning;
