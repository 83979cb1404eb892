//! Property test of the manifest parser: whatever the text (the shipped
//! manifest with lines dropped, duplicated, swapped or bytes changed, or
//! random TOML-ish text), `Manifest::parse` returns a manifest or an error
//! that names the file, and never panics. A small seeded generator stands in
//! for a fuzzer so this runs in CI; `MLC_FUZZ_CASES` sets the cases (400 by
//! default) and `MLC_SEED` replays a run.

use mlc_host::bundled::MANIFEST;
use mlc_host::manifest::Manifest;
use mlc_sandbox::seeded::{Rng, fuzz_cases};
use std::path::Path;

/// Values that stress validation: schedules, URLs, secrets, numbers.
const VALUES: &[&str] = &[
    "\"\"",
    "\"5m\"",
    "\"0s\"",
    "\"99999999999999h\"",
    "\"* * * * * * *\"",
    "\"61 25 32 13 8\"",
    "\"secret:\"",
    "\"secret:a/../b\"",
    "\"http://[::1]:99999\"",
    "\"file:///etc/passwd\"",
    "\"mappings/../../../etc/passwd\"",
    "-1",
    "18446744073709551616",
    "1e308",
    "true",
    "[]",
    "{}",
    "{ scheme = \"wsse\" }",
    "\"\u{0}\"",
    "\"é中🙂\"",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + rng.below(6) {
        let i = rng.below(lines.len());
        match rng.below(6) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            2 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3 => {
                // Replace a value.
                if let Some((key, _)) = lines[i].split_once(" = ") {
                    lines[i] = format!("{key} = {}", VALUES[rng.below(VALUES.len())]);
                }
            }
            4 => {
                let mut bytes = lines[i].clone().into_bytes();
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len());
                    let pool = b"[]{}=\"'.,#\\x";
                    bytes[at] = pool[rng.below(pool.len())];
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {
                let at = rng.below(lines[i].len() + 1);
                if lines[i].is_char_boundary(at) {
                    lines[i].truncate(at);
                }
            }
        }
        if lines.is_empty() {
            break;
        }
    }
    lines.join("\n")
}

#[test]
fn manifest_parse_never_panics_and_every_error_names_the_file() {
    let path = Path::new("fuzz/manifest.toml");
    let mut rng = Rng::for_property(21);
    let n = fuzz_cases();
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..n {
        let text = if case % 5 == 0 {
            (0..rng.below(200))
                .map(|_| char::from_u32(rng.next_u64() as u32 % 0x3000).unwrap_or('?'))
                .collect()
        } else {
            mutate(&mut rng, MANIFEST)
        };
        match Manifest::parse(path, &text) {
            Ok(_) => accepted += 1,
            Err(e) => {
                refused += 1;
                let message = e.to_string();
                assert!(
                    message.contains("fuzz/manifest.toml"),
                    "an error without the file: {message}"
                );
                assert!(!e.key.is_empty(), "an error without a key: {message}");
            }
        }
    }
    println!("props_manifest: {n} manifests ({accepted} accepted, {refused} refused with a key)");
}
