//! Scanning for secrets: whether any of a set of secrets occurs in some
//! bytes (plain or in the encodings a leak would take), and a tracing writer
//! that captures every log line for such a scan.

use std::sync::{Arc, Mutex};

/// Which of `secrets` occur in `haystack`, as plain text or in the usual
/// encodings a leak would take (base64, URL-encoded, hex).
pub fn leaked<'a>(haystack: &[u8], secrets: &[&'a str]) -> Vec<&'a str> {
    use base64::Engine;
    let mut found = Vec::new();
    for secret in secrets {
        let forms = [
            secret.as_bytes().to_vec(),
            base64::engine::general_purpose::STANDARD
                .encode(secret)
                .trim_end_matches('=')
                .as_bytes()
                .to_vec(),
            secret
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
        ];
        if forms.iter().any(|f| contains(haystack, f)) {
            found.push(*secret);
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Collects everything a tracing subscriber writes (for secret scans).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything captured so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
