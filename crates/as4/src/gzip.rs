//! AS4 payload compression (application/gzip), sans I/O and capped against gzip bombs.

use std::io::{self, Write};

use flate2::write::{GzDecoder, GzEncoder};
use flate2::Compression;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    #[error("not a valid gzip stream")]
    Corrupt,
    #[error("gzip stream ends early")]
    Truncated,
    #[error("decompressed size exceeds {limit} bytes")]
    OutputTooLarge { limit: u64 },
    #[error("decompression ratio exceeds {limit}:1")]
    RatioTooHigh { limit: u64 },
}

#[derive(Debug, Clone)]
pub struct GzipLimits {
    pub max_output_bytes: u64,
    /// Output may exceed `max_ratio` × input only within the first `ratio_free_bytes`.
    pub max_ratio: u64,
    pub ratio_free_bytes: u64,
}

impl Default for GzipLimits {
    fn default() -> Self {
        Self {
            max_output_bytes: 2 * 1024 * 1024 * 1024,
            max_ratio: 200,
            ratio_free_bytes: 1024 * 1024,
        }
    }
}

/// Collects decompressed bytes and refuses to grow past `allowed`.
#[derive(Debug, Default)]
struct CappedSink {
    out: Vec<u8>,
    total: u64,
    allowed: u64,
    refused: Option<GzipError>,
    max_output: u64,
    max_ratio: u64,
}

impl Write for CappedSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let next = self.total + buf.len() as u64;
        if next > self.allowed {
            self.refused = Some(if next > self.max_output {
                GzipError::OutputTooLarge {
                    limit: self.max_output,
                }
            } else {
                GzipError::RatioTooHigh {
                    limit: self.max_ratio,
                }
            });
            return Err(io::Error::other("decompression limit"));
        }
        self.total = next;
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Streaming gunzip: feed compressed chunks, take decompressed bytes from `out`.
pub struct Gunzip {
    decoder: GzDecoder<CappedSink>,
    limits: GzipLimits,
    input: u64,
    failed: bool,
}

impl Gunzip {
    pub fn new(limits: GzipLimits) -> Self {
        let sink = CappedSink {
            max_output: limits.max_output_bytes,
            max_ratio: limits.max_ratio,
            ..CappedSink::default()
        };
        Self {
            decoder: GzDecoder::new(sink),
            limits,
            input: 0,
            failed: false,
        }
    }

    fn allowed(&self) -> u64 {
        let by_ratio = self
            .limits
            .max_ratio
            .saturating_mul(self.input)
            .max(self.limits.ratio_free_bytes);
        by_ratio.min(self.limits.max_output_bytes)
    }

    fn fail(&mut self) -> GzipError {
        self.failed = true;
        self.decoder
            .get_mut()
            .refused
            .take()
            .unwrap_or(GzipError::Corrupt)
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), GzipError> {
        if self.failed {
            return Err(GzipError::Corrupt);
        }
        self.input += chunk.len() as u64;
        let allowed = self.allowed();
        self.decoder.get_mut().allowed = allowed;
        if self.decoder.write_all(chunk).is_err() || self.decoder.flush().is_err() {
            return Err(self.fail());
        }
        out.append(&mut self.decoder.get_mut().out);
        Ok(())
    }

    /// Checks the trailer (CRC and length); returns the total decompressed size.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<u64, GzipError> {
        if self.failed {
            return Err(GzipError::Corrupt);
        }
        if self.decoder.header().is_none() {
            return Err(GzipError::Truncated);
        }
        match self.decoder.try_finish() {
            Ok(()) => {
                let sink = self.decoder.get_mut();
                out.append(&mut sink.out);
                Ok(sink.total)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(GzipError::Truncated),
            Err(_) => Err(self.fail()),
        }
    }
}

/// Decompress a whole payload held in memory.
pub fn gunzip(data: &[u8], limits: GzipLimits) -> Result<Vec<u8>, GzipError> {
    let mut g = Gunzip::new(limits);
    let mut out = Vec::new();
    g.feed(data, &mut out)?;
    g.finish(&mut out)?;
    Ok(out)
}

/// Streaming gzip for sending.
pub struct Gzip {
    encoder: GzEncoder<Vec<u8>>,
}

impl Gzip {
    pub fn new() -> Self {
        Self {
            encoder: GzEncoder::new(Vec::new(), Compression::default()),
        }
    }
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = self.encoder.write_all(chunk);
        out.append(self.encoder.get_mut());
    }
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let _ = self.encoder.try_finish();
        out.append(self.encoder.get_mut());
    }
}

impl Default for Gzip {
    fn default() -> Self {
        Self::new()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut g = Gzip::new();
    let mut out = Vec::new();
    g.feed(data, &mut out);
    g.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_gzip_makes_in_any_chunking() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let packed = gzip(&data);
        assert_eq!(gunzip(&packed, GzipLimits::default()).unwrap(), data);
        let mut g = Gunzip::new(GzipLimits::default());
        let mut out = Vec::new();
        for chunk in packed.chunks(5) {
            g.feed(chunk, &mut out).unwrap();
        }
        assert_eq!(g.finish(&mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
    }

    #[test]
    fn refuses_a_gzip_bomb() {
        // 64 MiB of zeros packs into ~64 KiB: a ratio of about 1000:1.
        let mut g = Gzip::new();
        let mut bomb = Vec::new();
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..64 {
            g.feed(&zeros, &mut bomb);
        }
        g.finish(&mut bomb);
        assert!(bomb.len() < 100 * 1024);
        assert_eq!(
            gunzip(&bomb, GzipLimits::default()),
            Err(GzipError::RatioTooHigh { limit: 200 })
        );
        let limits = GzipLimits {
            max_output_bytes: 1000,
            ..GzipLimits::default()
        };
        assert_eq!(
            gunzip(&bomb, limits),
            Err(GzipError::OutputTooLarge { limit: 1000 })
        );
    }

    #[test]
    fn refuses_damaged_and_truncated_gzip() {
        let packed = gzip(b"hello hello hello hello");
        let mut damaged = packed.clone();
        let n = damaged.len();
        damaged[n - 6] ^= 0xff; // CRC
        assert_eq!(
            gunzip(&damaged, GzipLimits::default()),
            Err(GzipError::Corrupt)
        );
        assert!(gunzip(b"not gzip at all", GzipLimits::default()).is_err());
        for cut in 0..packed.len() {
            assert!(
                gunzip(&packed[..cut], GzipLimits::default()).is_err(),
                "prefix {cut} accepted"
            );
        }
        let mut trailing = packed.clone();
        trailing.extend_from_slice(b"junk");
        assert!(gunzip(&trailing, GzipLimits::default()).is_err());
    }
}
