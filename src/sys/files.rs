//! The one way jitterd reads a small file an operator names (the config
//! file, the web config file): a regular file only, read with a bound.
//!
//! A FIFO would block the start (or a reload) until someone writes to it, a
//! device may never end, and a path to something huge (`/dev/zero`, a log)
//! must not eat the memory; so those are refused before or while reading,
//! never after.

use std::io::Read as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// It could not be opened or read.
    Io(std::io::Error),
    /// It is not a regular file: "a directory", "a FIFO", …
    NotAFile(&'static str),
    /// It holds more than this many bytes.
    TooLarge(u64),
}

/// Reads a regular file of at most `max_bytes`, reading no more than one
/// byte past the bound.
pub(crate) fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let file_type = std::fs::metadata(path).map_err(ReadError::Io)?.file_type();
    if !file_type.is_file() {
        return Err(ReadError::NotAFile(if file_type.is_dir() {
            "a directory"
        } else if file_type.is_fifo() {
            "a FIFO"
        } else if file_type.is_socket() {
            "a socket"
        } else if file_type.is_char_device() {
            "a character device"
        } else if file_type.is_block_device() {
            "a block device"
        } else {
            "not a file"
        }));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge(max_bytes));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let dir = std::env::temp_dir();
        assert!(matches!(read_bounded(&dir, 10), Err(ReadError::NotAFile("a directory"))));
        assert!(matches!(read_bounded(Path::new("/dev/zero"), 10), Err(ReadError::NotAFile("a character device"))));
        assert!(matches!(read_bounded(Path::new("/no/such/file"), 10), Err(ReadError::Io(_))));
        let path = dir.join(format!("jitterd-files-test-{}", std::process::id()));
        std::fs::write(&path, b"12345").expect("write");
        assert_eq!(read_bounded(&path, 5).ok(), Some(b"12345".to_vec()));
        assert!(matches!(read_bounded(&path, 4), Err(ReadError::TooLarge(4))));
        let _ = std::fs::remove_file(path);
    }
}
