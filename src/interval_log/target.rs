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
//! write) gets a newline before the new section.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

pub struct LogFile {
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
pub enum Section {
    /// The current section goes on: lines only.
    Continues,
    /// A header first; after a newline if the file ends mid-line.
    New { torn_tail: bool },
}

impl LogFile {
    pub fn new(path: PathBuf) -> LogFile {
        LogFile { path, open: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file if it is not open (or no longer the file at the path)
    /// and says whether the next append starts a section.
    pub fn prepare(&mut self) -> io::Result<Section> {
        if let Some(open) = &self.open {
            let same = std::fs::metadata(&self.path).is_ok_and(|meta| (meta.dev(), meta.ino()) == open.identity);
            if !same {
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
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
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
pub fn open_append(path: &Path) -> io::Result<File> {
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
    let torn_tail = regular && meta.len() > 0 && {
        let mut last = [0u8; 1];
        file.read_at(&mut last, meta.len() - 1).is_ok_and(|read| read == 1 && last[0] != b'\n')
    };
    Ok(Open { file, identity: (meta.dev(), meta.ino()), regular, new_section: true, torn_tail })
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
        std::fs::write(&path, "old, cut off mid-li").expect("writes");
        let mut log = LogFile::new(path);
        assert_eq!(log.prepare().expect("opens"), Section::New { torn_tail: true });
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
