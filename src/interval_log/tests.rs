//! The writer thread against real files: what it writes reads back with the
//! hdrhistogram crate's parser, and write errors are counted, logged once and
//! carried. No test depends on how fast the host is: each waits (with a
//! generous limit) for what must eventually happen.

use std::io::Write;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use super::*;
use crate::experiment::Heartbeat;
use crate::observe::{Keep, LatenessStore, Observatory};

const PATIENCE: Duration = Duration::from_secs(30);
const MS: u64 = 1_000_000;

fn observatory() -> Arc<Observatory> {
    Arc::new(Observatory::new(Keep::Window))
}

fn store(observatory: &Observatory, heartbeat: Heartbeat) -> &LatenessStore {
    observatory.board(heartbeat).store().expect("the daemon's boards keep a window")
}

fn write_errors(observatory: &Observatory) -> u64 {
    observatory.snapshot().write_errors
}

fn settings(path: &Path, interval: Duration) -> LogSettings {
    LogSettings { path: path.to_path_buf(), interval }
}

/// Every interval line in the file that parses: (tag, histogram). A line
/// still being written ends the list.
fn read_intervals(path: &Path) -> Vec<(String, Histogram<u64>)> {
    let text = std::fs::read(path).unwrap_or_default();
    let mut deserializer = Deserializer::new();
    let mut intervals = Vec::new();
    for entry in IntervalLogIterator::new(&text) {
        let Ok(LogEntry::Interval(line)) = entry else {
            if entry.is_err() {
                break;
            }
            continue;
        };
        use base64::Engine as _;
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(line.encoded_histogram()) else { break };
        let Ok(histogram) = deserializer.deserialize(&mut bytes.as_slice()) else { break };
        intervals.push((line.tag().map(|tag| tag.to_string()).unwrap_or_default(), histogram));
    }
    intervals
}

fn slots(path: &Path, tag: &str) -> u64 {
    read_intervals(path).iter().filter(|(line_tag, _)| line_tag == tag).map(|(_, histogram)| histogram.len()).sum()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A subscriber that keeps what is logged where it is the default, plus a
/// second, silent one held alongside. With a single scoped subscriber,
/// tracing decides each event site's interest from whichever thread reaches
/// it first; another test's thread, logging nowhere, would then switch the
/// site off for this one too. With two, every event asks the thread's own.
fn capture() -> ((tracing::Dispatch, tracing::Dispatch), Arc<Mutex<Vec<u8>>>) {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logged = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(Arc::clone(&logged));
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || sink.clone()).finish();
    let silent = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    ((tracing::Dispatch::new(subscriber), silent), logged)
}

fn logged_lines(logged: &Arc<Mutex<Vec<u8>>>, needle: &str) -> usize {
    let text = String::from_utf8_lossy(&logged.lock().unwrap_or_else(|poisoned| poisoned.into_inner())).into_owned();
    text.lines().filter(|line| line.contains(needle)).count()
}

#[test]
fn the_handle_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<IntervalLog>();
    shareable::<LatenessStore>();
}

#[test]
fn check_writable_names_the_path_and_the_os_error() {
    assert_eq!(
        IntervalLog::check_writable(Path::new("/nope/x.hlog")),
        Err("cannot open /nope/x.hlog for appending: No such file or directory (os error 2)".to_string())
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let err = IntervalLog::check_writable(dir.path()).expect_err("a directory");
    assert!(err.contains("Is a directory"), "{err}");
    assert_eq!(IntervalLog::check_writable(&dir.path().join("new.hlog")), Ok(()));
}

#[test]
fn stop_writes_the_partial_interval_for_each_tag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lateness.hlog");
    let sources = observatory();
    store(&sources, Heartbeat::Main).record_slots(7 * MS, 1_000 * MS, 0);
    let log = IntervalLog::spawn(settings(&path, Duration::from_secs(3_600)), Arc::clone(&sources)).expect("spawns");
    store(&sources, Heartbeat::Main).record_slots(2 * MS, 10 * MS, 0);
    store(&sources, Heartbeat::Main).record_slots(1_000 * MS, 10 * MS, 99);
    store(&sources, Heartbeat::Control).record_slots(3 * MS, 10 * MS, 0);
    log.stop();
    let intervals = read_intervals(&path);
    let tags: Vec<&str> = intervals.iter().map(|(tag, _)| tag.as_str()).collect();
    assert_eq!(tags, ["main", "control"]);
    assert_eq!(intervals[0].1.len(), 101, "recorded before spawn is not the log's");
    assert_eq!(intervals[1].1.len(), 1);
    let text = std::fs::read_to_string(&path).expect("reads");
    assert!(text.starts_with("#[Logged with jitterd "), "{text}");
}

#[test]
fn reconfigure_cuts_the_interval_and_moves_to_the_new_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (dir.path().join("a.hlog"), dir.path().join("b.hlog"));
    let sources = observatory();
    let log = IntervalLog::spawn(settings(&first, Duration::from_secs(3_600)), Arc::clone(&sources)).expect("spawns");
    store(&sources, Heartbeat::Main).record_slots(5 * MS, 10 * MS, 4);
    log.reconfigure(settings(&second, Duration::from_secs(3_600)));
    wait_until("the cut interval in the first file", || slots(&first, "main") == 5);
    store(&sources, Heartbeat::Main).record_slots(6 * MS, 10 * MS, 0);
    log.reconfigure(settings(&second, Duration::from_secs(3_600)));
    wait_until("a line in the second file", || slots(&second, "main") == 1);
    store(&sources, Heartbeat::Main).record_slots(6 * MS, 10 * MS, 0);
    log.stop();
    assert_eq!((slots(&first, "main"), slots(&second, "main")), (5, 2));
    let second_text = std::fs::read_to_string(&second).expect("reads");
    assert_eq!(second_text.matches("#[BaseTime:").count(), 1, "one section: {second_text}");
}

#[test]
fn disk_full_is_counted_logged_once_and_carried_into_the_next_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("lateness.hlog");
    let sources = observatory();
    let ((dispatch, _silent), logged) = capture();
    let log = tracing::dispatcher::with_default(&dispatch, || {
        IntervalLog::spawn(settings(Path::new("/dev/full"), Duration::from_millis(20)), Arc::clone(&sources))
    })
    .expect("/dev/full opens");
    store(&sources, Heartbeat::Main).record_slots(5 * MS, 10 * MS, 0);
    wait_until("three failed writes", || write_errors(&sources) >= 3);
    store(&sources, Heartbeat::Main).record_slots(5 * MS, 10 * MS, 9);
    log.reconfigure(settings(&good, Duration::from_millis(20)));
    wait_until("the carried slots in the good file", || slots(&good, "main") == 11);
    log.stop();
    assert_eq!(slots(&good, "main"), 11, "nothing recorded while the disk was full is lost");
    assert_eq!(logged_lines(&logged, "record.interval_log: cannot write /dev/full"), 1);
    assert_eq!(logged_lines(&logged, &format!("writing {} works again", good.display())), 1);
    assert_eq!(logged_lines(&logged, "No space left on device"), 1);
}

#[test]
fn a_removed_file_or_directory_is_recreated_with_a_header_when_it_can_be() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let path = sub.join("lateness.hlog");
    let sources = observatory();
    let log = IntervalLog::spawn(settings(&path, Duration::from_millis(20)), Arc::clone(&sources)).expect("spawns");
    store(&sources, Heartbeat::Main).record_slots(5 * MS, 10 * MS, 1);
    wait_until("the first line", || slots(&path, "main") == 2);

    std::fs::remove_file(&path).expect("rm");
    store(&sources, Heartbeat::Main).record_slots(5 * MS, 10 * MS, 2);
    wait_until("the file recreated", || slots(&path, "main") == 3);
    assert!(std::fs::read_to_string(&path).expect("reads").starts_with("#[Logged with jitterd "));
    assert_eq!(write_errors(&sources), 0, "a removed file is no error");

    std::fs::remove_dir_all(&sub).expect("rm -r");
    wait_until("a failed write", || write_errors(&sources) >= 1);
    store(&sources, Heartbeat::Main).record_slots(5 * MS, 10 * MS, 3);
    std::fs::create_dir(&sub).expect("mkdir");
    wait_until("writing resumed", || slots(&path, "main") == 4);
    log.stop();
    assert!(std::fs::read_to_string(&path).expect("reads").starts_with("#[Logged with jitterd "));
}
