//! Stalled clients, too many sockets and password guessers cannot keep a
//! scrape out: a thousand clients that never finish their heads, more
//! clients than descriptors, running out of descriptors altogether, and
//! eight threads guessing passwords, each against the real binary.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{Daemon, Start};

/// Raises this process's open-file limit to its hard limit; returns it.
fn raise_own_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on this process with a struct we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// Sets another process's soft open-file limit, as `prlimit --pid` does
/// (raising it back up to the hard limit needs no privilege).
fn set_soft_descriptor_limit(pid: i32, files: u64) -> std::io::Result<()> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: prlimit(2) on our own child, with structs we own.
    unsafe {
        if libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit.rlim_cur = files.min(limit.rlim_max);
        if libc::prlimit(pid, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn open_descriptors(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn resident_anonymous_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time a thread has used (user plus system).
fn cpu_time(task: &std::path::Path) -> Duration {
    let stat = std::fs::read_to_string(task.join("stat")).unwrap_or_default();
    // Fields after the command name, which ends with the last ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // SAFETY: sysconf(3) has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

/// One GET with a fresh connection; status (0 on failure) and how long it took.
fn timed_get(addr: &str, path: &str, authorization: Option<&str>, timeout: Duration) -> (u16, Duration) {
    let start = Instant::now();
    let Ok(mut stream) = TcpStream::connect(addr) else { return (0, start.elapsed()) };
    stream.set_read_timeout(Some(timeout)).expect("timeout");
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, start.elapsed());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let status = std::str::from_utf8(response.get(9..12).unwrap_or_default()).ok().and_then(|s| s.parse().ok());
    (status.unwrap_or(0), start.elapsed())
}

/// One GET with credentials: status and the whole response.
fn authorized_get(addr: &str, path: &str, authorization: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    (response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0), response)
}

/// Whether the server closed this connection (EOF or reset) within `wait`.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    match stream.read(&mut [0u8; 64]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => !matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

fn log_lines_containing(daemon: &Daemon, message: &str) -> usize {
    daemon.stderr_lines().iter().filter(|line| line.contains(message)).count()
}

/// Waits until the daemon holds at least `count` descriptors.
fn wait_for_descriptors(daemon: &Daemon, count: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let open = open_descriptors(daemon.pid());
        if open >= count || Instant::now() >= deadline {
            return open;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[test]
fn a_thousand_stalled_clients_do_not_keep_a_scrape_out() {
    let _alone = crate::common::alone();
    assert!(raise_own_descriptor_limit() >= 1100, "the test needs 1100 descriptors");
    let daemon = Daemon::start(&common::config("async", "10ms"));
    let pid = daemon.pid();
    let before = daemon.metrics();
    let memory_before = resident_anonymous_kib(pid);
    let load = crate::common::HostLoad::start(&[pid]);
    // Half say nothing; half send part of a head, as slowloris does.
    let mut stalled = Vec::new();
    for i in 0..1000 {
        let mut stream = TcpStream::connect(&daemon.addr).expect("connect");
        if i % 2 == 1 {
            stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ").expect("write");
        }
        stalled.push(stream);
    }
    let held = wait_for_descriptors(&daemon, 1000, Duration::from_secs(10));
    assert!(held >= 1000, "the daemon holds {held} descriptors: it did not accept the stalled clients");

    let scrapes: Vec<(u16, Duration)> =
        (0..5).map(|_| timed_get(&daemon.addr, "/metrics", None, Duration::from_secs(5))).collect();
    println!("scrapes beside 1000 stalled clients: {scrapes:?}");
    for (status, took) in &scrapes {
        assert_eq!(*status, 200, "{scrapes:?}");
        assert!(*took < Duration::from_secs(1), "a scrape took {took:?} beside 1000 stalled clients");
    }
    // Memory per stalled connection stays bounded: buffers are capped at
    // 16 KiB for the head plus hyper's 8 KiB for writing, and a client that
    // says nothing gets none.
    let grown_kib = resident_anonymous_kib(pid).saturating_sub(memory_before);
    println!("resident memory grew by {grown_kib} KiB for 1000 stalled clients");
    assert!(grown_kib < 1000 * 32, "{grown_kib} KiB for 1000 stalled connections");
    // They were held, not dropped, and the heartbeat went on.
    assert!(open_descriptors(pid) >= 1000, "the stalled clients were dropped early");
    // Waited for, not expected within however long the connects took.
    let after = daemon.wait_for_metrics(Duration::from_secs(10), "a beat beside the stalled clients", |m| {
        m.get("jitterd_heartbeats_total") > before.get("jitterd_heartbeats_total")
    });
    let late = after.count_above("jitterd_heartbeat_lateness_seconds", "1.05")
        - before.count_above("jitterd_heartbeat_lateness_seconds", "1.05");
    load.assert_if_quiet(late == 0.0, &format!("no slot over a second late beside the stalled clients ({late} were)"));
}

#[test]
fn beyond_the_cap_the_longest_waiting_connections_are_shed() {
    let _alone = crate::common::alone();
    raise_own_descriptor_limit();
    // 128 descriptors: the daemon keeps at most 64 connections.
    let daemon = Daemon::start_with(Start {
        config: &common::config("async", "100ms"),
        wrapper: &["prlimit", "--nofile=128:128"],
        ..Start::default()
    });
    let mut stalled: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(&daemon.addr).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let (status, took) = timed_get(&daemon.addr, "/metrics", None, Duration::from_secs(5));
        assert_eq!(status, 200, "no scrape beyond the connection cap");
        assert!(took < Duration::from_secs(1), "a scrape took {took:?} beyond the cap");
    }
    let open = open_descriptors(daemon.pid());
    println!("{open} descriptors open beside 200 stalled clients with a limit of 128");
    assert!(open <= 64 + 40, "{open} descriptors open: the cap of 64 connections did not hold");
    // The first ones waited longest and were closed; the last are still held.
    assert!(closed_by_server(&mut stalled[0], Duration::from_secs(1)), "the oldest connection is still open");
    assert!(!closed_by_server(&mut stalled[199], Duration::from_millis(100)), "the newest connection was closed");
    daemon.wait_for_log("reached the cap", Duration::from_secs(5));
    assert_eq!(log_lines_containing(&daemon, "reached the cap"), 1, "{:?}", daemon.stderr_lines());
    // Every connection shed is counted: 200 stalled clients, at most 64 kept.
    let shed = daemon.metrics().get("jitterd_http_rejected_total{reason=\"max_connections\"}");
    assert!(shed >= 100.0, "{shed} connections counted as shed beyond a cap of 64");
    assert_eq!(log_lines_containing(&daemon, "cannot accept"), 0, "{:?}", daemon.stderr_lines());
}

#[test]
fn out_of_descriptors_is_logged_once_without_spinning_and_recovers() {
    let _alone = crate::common::alone();
    let mut daemon = Daemon::start(&common::config("async", "100ms"));
    let pid = daemon.pid();
    let http = daemon.threads_named("jitterd-http");
    assert_eq!(http.len(), 1, "one HTTP thread");
    // Not one descriptor more: every accept fails with EMFILE.
    set_soft_descriptor_limit(pid, open_descriptors(pid) as u64).expect("prlimit");
    let waiting: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&daemon.addr).expect("connect")).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while log_lines_containing(&daemon, "cannot accept") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let cpu_before = cpu_time(&http[0]);
    let measured = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let cpu = cpu_time(&http[0]) - cpu_before;
    let seconds = measured.elapsed().as_secs_f64();
    println!("HTTP thread CPU over {seconds:.2} s out of descriptors: {cpu:?}");
    assert!(cpu.as_secs_f64() < 0.5 * seconds, "the HTTP thread spun: {cpu:?} of CPU in {seconds:.2} s");
    assert_eq!(log_lines_containing(&daemon, "cannot accept"), 1, "{:?}", daemon.stderr_lines());
    assert!(daemon.stderr_lines().iter().any(|l| l.contains("Too many open files")), "{:?}", daemon.stderr_lines());
    assert!(daemon.child.try_wait().expect("wait").is_none(), "the daemon exited");

    // Descriptors again: it accepts, says so once, and serves.
    set_soft_descriptor_limit(pid, 4096).expect("prlimit");
    drop(waiting);
    let (status, took) = timed_get(&daemon.addr, "/metrics", None, Duration::from_secs(5));
    assert_eq!(status, 200, "no scrape after the descriptors came back (took {took:?})");
    daemon.wait_for_log("accepting connections again", Duration::from_secs(5));
    assert_eq!(log_lines_containing(&daemon, "accepting connections again"), 1, "{:?}", daemon.stderr_lines());
    assert_eq!(log_lines_containing(&daemon, "cannot accept"), 1);
    for line in daemon.stderr_lines().iter().filter(|l| l.contains("accept")) {
        println!("{line}");
    }
}

// --- password guessing ---------------------------------------------------

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[test]
fn password_guessers_do_not_delay_a_remembered_scrape() {
    let _alone = crate::common::alone();
    let dir = tempfile::tempdir().expect("tempdir");
    let web = dir.path().join("web.yml");
    // Cost 10, as `htpasswd -nBC 10` makes: tens of milliseconds a check.
    let hash = bcrypt::hash("s3cret", 10).expect("bcrypt");
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {hash}\n")).expect("write");
    let web = web.to_str().expect("path");
    let daemon = Daemon::start_with(Start {
        config: &common::config("async", "10ms"),
        args: &["--web.config.file", web],
        ..Start::default()
    });
    let addr = daemon.addr.clone();
    let correct = basic("prometheus", "s3cret");
    // Prometheus's first scrape: checked once, then remembered.
    assert_eq!(timed_get(&addr, "/metrics", Some(&correct), Duration::from_secs(10)).0, 200);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guessers: Vec<_> = (0..8)
        .map(|thread| {
            let (addr, stop) = (addr.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
                let mut guess = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    guess += 1;
                    let auth = basic("prometheus", &format!("guess-{thread}-{guess}"));
                    let (status, _) = timed_get(&addr, "/metrics", Some(&auth), Duration::from_secs(2));
                    *statuses.entry(status).or_default() += 1;
                }
                statuses
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut scrapes = Vec::new();
    for _ in 0..15 {
        let (status, took) = timed_get(&addr, "/metrics", Some(&correct), Duration::from_secs(10));
        assert_eq!(status, 200, "a correct scrape was refused while others guessed");
        scrapes.push(took);
        std::thread::sleep(Duration::from_millis(100));
    }
    // bcrypt runs on one thread, at nice 19.
    let bcrypt = daemon.threads_named("jitterd-bcrypt");
    let nice: Vec<String> = bcrypt
        .iter()
        .map(|task| {
            let stat = std::fs::read_to_string(task.join("stat")).unwrap_or_default();
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(16)).unwrap_or("?").to_owned()
        })
        .collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for guesser in guessers {
        for (status, count) in guesser.join().expect("guesser") {
            *statuses.entry(status).or_default() += count;
        }
    }
    let best = scrapes.iter().min().copied().unwrap_or_default();
    let median = median(scrapes.clone());
    println!("correct scrapes beside 8 guessers: median {median:?}, best {best:?}, all {scrapes:?}");
    println!("guesses answered: {statuses:?}; bcrypt threads' nice values: {nice:?}");
    // The acceptance figure, on the median so one unlucky scrape on a busy
    // host cannot fail it.
    assert!(median < Duration::from_millis(200), "median {median:?}: {scrapes:?}");
    // 0: a guess waiting its turn for bcrypt when the guesser gave up, after
    // 2 s (bcrypt runs at nice 19 beside eight busy guessers).
    assert!(statuses.keys().all(|status| [401, 429, 0].contains(status)), "guesses answered {statuses:?}");
    // Eight guessers, five places for new credentials: some are turned away.
    assert!(statuses.get(&429).is_some_and(|&n| n > 0), "no guess was turned away: {statuses:?}");
    // And counted, every one the guessers saw at least.
    let (status, response) = authorized_get(&addr, "/metrics", &correct);
    assert_eq!(status, 200, "{response:.300}");
    let counted = crate::common::Metrics::parse(response.split_once("\r\n\r\n").map_or("", |(_, body)| body))
        .get("jitterd_http_rejected_total{reason=\"max_password_checks\"}");
    let seen = statuses.get(&429).copied().unwrap_or(0) as f64;
    assert!(counted >= seen, "{counted} 429s counted, {seen} seen by the guessers");
    assert_eq!(nice, ["19"], "bcrypt threads' nice values");
}
