//! Bounded random access to a file: one read of the head, then positioned reads where needed.
use std::borrow::Cow;
use std::fs::File;
use std::io;

use super::MediaError;

/// Random access to the bytes of one file. Implemented for in-memory slices (tests, fuzzing,
/// embedded blocks) and for files ([`FileSource`]).
pub trait ReadAt: Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Read exactly `len` bytes at `offset`. Callers check bounds first with [`ReadAt::slice`].
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checked read: `what` names the structure for the error message. Fails with
    /// [`MediaError::Truncated`] when the range passes the end of the file and with
    /// [`MediaError::TooLarge`] when `len > limit`.
    fn slice(&self, what: &'static str, offset: u64, len: u64, limit: u64) -> Result<Cow<'_, [u8]>, MediaError> {
        if len > limit {
            return Err(MediaError::TooLarge { what, offset, size: len, limit });
        }
        let end = offset.checked_add(len).ok_or_else(|| MediaError::malformed(what, offset, "length overflows"))?;
        if end > self.len() {
            return Err(MediaError::Truncated { what, offset, needed: len, len: self.len() });
        }
        Ok(self.read_exact_at(offset, len as usize)?)
    }
}

impl ReadAt for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start.checked_add(len).ok_or(io::ErrorKind::UnexpectedEof)?;
        self.get(start..end).map(Cow::Borrowed).ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }
}

impl ReadAt for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>> {
        (**self).read_exact_at(offset, len)
    }
}

impl ReadAt for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>> {
        self.as_slice().read_exact_at(offset, len)
    }
}

/// An open file read with positioned reads only, its length taken once when wrapped: write-back
/// plans its splice through the same walkers as the scan and reads only headers and the packet.
pub struct FileAt<'a> {
    file: &'a File,
    len: u64,
}

impl<'a> FileAt<'a> {
    pub fn new(file: &'a File) -> io::Result<Self> {
        Ok(FileAt { file, len: file.metadata()?.len() })
    }
}

impl ReadAt for FileAt<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>> {
        pread_exact(self.file, offset, len).map(Cow::Owned)
    }
}

/// `len` bytes of another source from `base`, read as a source of their own (a TIFF structure
/// inside an EXIF block is walked with offsets relative to its start).
pub struct Window<'a> {
    src: &'a dyn ReadAt,
    base: u64,
    len: u64,
}

impl<'a> Window<'a> {
    /// `src[base..end]` (cut to the end of `src`).
    pub fn new(src: &'a dyn ReadAt, base: u64, end: u64) -> Self {
        let len = end.min(src.len()).saturating_sub(base);
        Window { src, base, len }
    }
}

impl ReadAt for Window<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => self.src.read_exact_at(self.base + offset, len),
            _ => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// Bytes read from the start of every file in one call; most files' metadata lies within.
pub const HEAD_LEN: usize = 64 * 1024;

/// A file opened for scanning: its length, its first [`HEAD_LEN`] bytes, positioned reads beyond.
pub struct FileSource {
    file: File,
    len: u64,
    head: Vec<u8>,
}

/// Open a regular file for reading without blocking (a FIFO opens at once instead of waiting
/// for a writer), and refuse anything else once open: a FIFO, a device (a link to `/dev/zero`
/// would never end), a socket or a directory is an error, never read. Returns the file and what
/// the one `fstat` of it said (its length and stamp: asked once per file).
pub fn open_file(path: &std::path::Path) -> io::Result<(File, std::fs::Metadata)> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NONBLOCK);
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    let file_type = meta.file_type();
    if !file_type.is_file() {
        return Err(io::Error::other(format!("not a regular file ({})", kind_of(file_type))));
    }
    Ok((file, meta))
}

/// What a directory entry is, for messages: `a regular file`, `a directory`, `a FIFO`, `a device`,
/// `a symbolic link`, `a socket or other special file`.
pub fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        "a regular file"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else {
        "a socket or other special file"
    }
}

impl FileSource {
    /// Read the head of `file`, whose length the caller asked for when it opened the file
    /// ([`open_file`]); `None`: it is asked here when the head fills (a short read already tells
    /// the length of a small file).
    pub fn open_with_len(file: File, known: Option<u64>) -> io::Result<Self> {
        let head = read_head(&file)?;
        let filled = head.len();
        let len = match known {
            _ if filled < HEAD_LEN => filled as u64,
            Some(len) => len.max(filled as u64),
            None => file.metadata()?.len().max(filled as u64),
        };
        Ok(FileSource { file, len, head })
    }

    /// The first bytes of the file (up to [`HEAD_LEN`]).
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

thread_local! {
    /// The head buffer of the last file this thread read, kept for the next one: allocating and
    /// freeing 64 KiB per file shows in profiles.
    static SPARE_HEAD: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for FileSource {
    fn drop(&mut self) {
        let head = std::mem::take(&mut self.head);
        if head.capacity() == HEAD_LEN {
            SPARE_HEAD.with(|spare| spare.set(head));
        }
    }
}

impl ReadAt for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>> {
        let end = offset.checked_add(len as u64).ok_or(io::ErrorKind::UnexpectedEof)?;
        if end <= self.head.len() as u64 {
            return Ok(Cow::Borrowed(&self.head[offset as usize..end as usize]));
        }
        pread_exact(&self.file, offset, len).map(Cow::Owned)
    }
}

/// The first [`HEAD_LEN`] bytes (fewer for a shorter file), read into an uninitialised buffer:
/// zeroing 64 KiB per file first would cost as much as the read itself.
#[cfg(unix)]
fn read_head(file: &File) -> io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut head: Vec<u8> = SPARE_HEAD.with(|spare| spare.take());
    head.clear();
    head.reserve_exact(HEAD_LEN);
    while head.len() < HEAD_LEN {
        let filled = head.len();
        // SAFETY: the kernel writes at most `HEAD_LEN - filled` bytes into the spare capacity
        // starting at `filled`; no reference to uninitialised memory is created, and the length
        // grows only by the number of bytes written.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                head.as_mut_ptr().add(filled).cast(),
                HEAD_LEN - filled,
                filled as libc::off_t,
            )
        };
        match n {
            0 => break,
            n if n > 0 => unsafe { head.set_len(filled + n as usize) },
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(head)
}

#[cfg(not(unix))]
fn read_head(file: &File) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; HEAD_LEN];
    let mut filled = 0;
    while filled < HEAD_LEN {
        match pread(file, &mut head[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// Exactly `len` bytes at `offset`, by positioned reads.
fn pread_exact(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match pread(file, &mut buf[filled..], offset + filled as u64) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
}

#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
