//! The file the interval log appends to, kept readable whatever happens to it.
//!
//! Every time the file is (re)opened a new section starts, with its own
//! header: at start, after the path changed, after the file was removed or
//! replaced (checked by device and inode before each write, so logrotate's
//! move-and-recreate works too) and after a failed write. The HdrHistogram
//! readers (Java's `HistogramLogReader`, Python's `hdrh`, the Rust crate's
//! parser) take a later `StartTime`/`BaseTime` as applying from there on, so
//! a file appended to across restarts stays one readable log. A write that
//! fails half-way is cut back off (regular files), so no torn line is left
//! for a reader to choke on; a file found ending mid-line (a crash during a
//! write) loses its torn interval line, or gets a newline before the new
//! section if the torn line is a comment or none of ours.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

pub(super) struct LogFile {
    path: PathBuf,
    open: Option<Open>,
}

struct Open {
    file: File,
    /// (device, inode) of what was opened.
    identity: (u64, u64),
    regular: bool,
    /// No header written yet to this opening of the file.
    new_section: bool,
    /// The file ended mid-line when opened.
    torn_tail: bool,
}

/// What the next append must start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// The current section goes on: lines only.
    Continues,
    /// A header first; after a newline if the file ends mid-line.
    New { torn_tail: bool },
}

impl LogFile {
    pub(super) fn new(path: PathBuf) -> LogFile {
        LogFile { path, open: None }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file if it is not open (or no longer the file at the path)
    /// and says whether the next append starts a section.
    pub(super) fn prepare(&mut self) -> io::Result<Section> {
        if let Some(open) = &self.open {
            let same = std::fs::metadata(&self.path).is_ok_and(|meta| (meta.dev(), meta.ino()) == open.identity);
            if !same {
                tracing::info!("record.interval_log: {} was removed or replaced; writing it anew", self.path.display());
                self.open = None;
            }
        }
        let open = match self.open.take() {
            Some(open) => open,
            None => open_for_append(&self.path)?,
        };
        let section = if open.new_section { Section::New { torn_tail: open.torn_tail } } else { Section::Continues };
        self.open = Some(open);
        Ok(section)
    }

    /// Appends `bytes` in one write. On failure the file is cut back to
    /// where it was (regular files) and closed, so the next append reopens
    /// it and starts a new section.
    pub(super) fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Err(io::Error::other("the interval log is not open"));
        };
        let length_before = if open.regular { open.file.metadata().ok().map(|meta| meta.len()) } else { None };
        let written = open.file.write_all(bytes).and_then(|()| open.file.flush());
        match written {
            Ok(()) => {
                open.new_section = false;
                open.torn_tail = false;
                Ok(())
            }
            Err(err) => {
                if let Some(length) = length_before {
                    // Best effort: if even this fails, the next section starts on a fresh line.
                    let _ = open.file.set_len(length);
                }
                self.open = None;
                Err(err)
            }
        }
    }
}

/// Opens `path` for appending, creating it if missing: what
/// [`super::IntervalLog::check_writable`] checks.
pub(super) fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

fn open_for_append(path: &Path) -> io::Result<Open> {
    // Read access too, to look at the last byte; append-only if that is all we may.
    let file = match OpenOptions::new().read(true).append(true).create(true).open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => open_append(path)?,
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    let regular = meta.is_file();
    let torn_tail = regular && mend_torn_tail(&file, path, meta.len());
    Ok(Open { file, identity: (meta.dev(), meta.ino()), regular, new_section: true, torn_tail })
}

/// The longest last line looked at when the file does not end with a newline.
const TAIL_LIMIT: u64 = 1 << 20;

/// A file that ends mid-line was cut short during a write (a crash, a full
/// disk that could not be cut back). A torn interval or legend line would
/// stop the readers (Python's raises on its base64), so it is cut off; a
/// torn comment, or a last line that is none of ours, is left and the new
/// section starts on the next line. Says whether that newline is needed.
fn mend_torn_tail(file: &File, path: &Path, length: u64) -> bool {
    let from = length.saturating_sub(TAIL_LIMIT);
    let mut tail = vec![0u8; (length - from) as usize];
    if tail.is_empty() || file.read_exact_at(&mut tail, from).is_err() || tail.last() == Some(&b'\n') {
        return false;
    }
    let line_start = match tail.iter().rposition(|&byte| byte == b'\n') {
        Some(newline) => newline + 1,
        None if from == 0 => 0,
        None => return true,
    };
    let line = &tail[line_start..];
    let ours = line.starts_with(b"Tag=") || line.starts_with(b"\"") || line.first().is_some_and(u8::is_ascii_digit);
    if !ours {
        return true;
    }
    let kept = from + line_start as u64;
    match file.set_len(kept) {
        Ok(()) => {
            tracing::warn!(
                "record.interval_log: {} ended in a torn line ({} bytes, from a write cut short); removed it",
                path.display(),
                line.len()
            );
            false
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_starts_a_section_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = LogFile::new(dir.path().join("x.hlog"));
        assert_eq!(log.prepare().expect("opens"), Section::New { torn_tail: false });
        log.append(b"header\nline 1\n").expect("appends");
        assert_eq!(log.prepare().expect("still open"), Section::Continues);
        log.append(b"line 2\n").expect("appends");
        assert_eq!(std::fs::read_to_string(log.path()).expect("reads"), "header\nline 1\nline 2\n");
    }

    #[test]
    fn an_existing_file_gets_a_new_section_after_its_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.hlog");
        std::fs::write(&path, "old\n").expect("writes");
        let mut log = LogFile::new(path.clone());
        assert_eq!(log.prepare().expect("opens"), Section::New { torn_tail: false });
        std::fs::write(&path, "old\n#a comment, cut off mid-li").expect("writes");
        let mut log = LogFile::new(path);
        assert_eq!(log.prepare().expect("opens"), Section::New { torn_tail: true });
    }

    #[test]
    fn a_torn_interval_line_is_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.hlog");
        std::fs::write(&path, "#[BaseTime: 1.000 (seconds since epoch)]\nTag=main,0.000,5.000,1.0,HISTFAAAAJ54")
            .expect("writes");
        let mut log = LogFile::new(path.clone());
        assert_eq!(log.prepare().expect("opens"), Section::New { torn_tail: false });
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "#[BaseTime: 1.000 (seconds since epoch)]\n");
        std::fs::write(&path, "0.127,1.007,2.7").expect("writes");
        assert_eq!(LogFile::new(path.clone()).prepare().expect("opens"), Section::New { torn_tail: false });
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "");
    }

    #[test]
    fn a_removed_file_is_recreated_with_a_new_section() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.hlog");
        let mut log = LogFile::new(path.clone());
        log.prepare().expect("opens");
        log.append(b"first\n").expect("appends");
        std::fs::remove_file(&path).expect("removes");
        assert_eq!(log.prepare().expect("recreates"), Section::New { torn_tail: false });
        log.append(b"second\n").expect("appends");
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "second\n");
    }

    #[test]
    fn a_failed_write_closes_the_file_and_the_next_starts_a_section() {
        let mut log = LogFile::new(PathBuf::from("/dev/full"));
        assert_eq!(log.prepare().expect("opens"), Section::New { torn_tail: false });
        let err = log.append(b"line\n").expect_err("disk full");
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(log.prepare().expect("reopens"), Section::New { torn_tail: false });
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_os_error() {
        let mut log = LogFile::new(PathBuf::from("/nonexistent-jitterd-dir/x.hlog"));
        let err = log.prepare().expect_err("no such directory");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
