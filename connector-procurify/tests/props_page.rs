//! Property tests of the Procurify page parser, run natively: generated list
//! envelopes read back exactly, mutated and random bodies never panic (they
//! are errors that say what is wrong), and the page walk always moves forward.
//! A small seeded generator stands in for a fuzzer so this runs in CI;
//! `MLC_FUZZ_CASES` sets the cases per property (400 by default) and
//! `MLC_SEED` replays a run.

use connector_procurify::api::{excerpt_bytes, next_page, page_of, parse_list, parse_single};
use mlc_sandbox::seeded::{Rng, fuzz_cases};
use serde_json::{Map, Value, json};

const CHARS: &[char] = &[
    'a', 'Q', '7', ' ', '"', '\\', '/', '\n', '\u{0}', 'é', '中', '🙂', '{', '}', '[', ']', ',',
    ':',
];

fn text(rng: &mut Rng) -> String {
    (0..rng.below(12))
        .map(|_| CHARS[rng.below(CHARS.len())])
        .collect()
}

/// A random JSON value, `depth` levels deep at most.
fn value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.next_u64() as i64),
        3 => json!(format!("{}.{:02}", rng.below(100_000), rng.below(100))),
        4 => Value::String(text(rng)),
        5 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(5) {
                m.insert(text(rng), value(rng, depth - 1));
            }
            Value::Object(m)
        }
    }
}

fn page(rng: &mut Rng) -> (Value, Vec<Value>, Option<String>, Option<u64>) {
    let data: Vec<Value> = (0..rng.below(20))
        .map(|i| {
            let mut record = Map::new();
            record.insert("id".into(), json!(i + 1));
            for _ in 0..rng.below(6) {
                record.insert(text(rng), value(rng, 3));
            }
            Value::Object(record)
        })
        .collect();
    let next = match rng.below(3) {
        0 => None,
        1 => Some(format!(
            "https://acme.procurify.com/api/v3/vendors/?page={}&page_size=100",
            rng.below(1000)
        )),
        _ => Some(format!("/x?{}", text(rng))),
    };
    let count = (rng.below(2) == 0).then(|| rng.next_u64() % 100_000);
    let envelope = json!({
        "metadata": {"pagination": {"next": next, "previous": null, "count": count, "page_size": 100}},
        "data": data,
    });
    (envelope, data, next, count)
}

#[test]
fn generated_list_envelopes_read_back_exactly() {
    let mut rng = Rng::for_property(11);
    let n = fuzz_cases();
    for _ in 0..n {
        let (envelope, data, next, count) = page(&mut rng);
        let body = serde_json::to_vec(&envelope).unwrap();
        let parsed =
            parse_list(&body).unwrap_or_else(|e| panic!("{envelope}: a valid page refused: {e}"));
        assert_eq!(parsed.data, data);
        assert_eq!(parsed.next, next.filter(|n| !n.is_empty()));
        assert_eq!(parsed.count, count);
    }
    println!("props_page: {n} generated pages read back exactly");
}

/// Applies 1-6 random edits to `seed`.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "null",
        "1e999",
        "-0",
        "\\u0000",
        "\\ud800",
        "\u{ff}",
        "\"data\":",
        "\"next\":7",
        "\"metadata\":[]",
    ];
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, t.iter().copied());
            }
            2 => {
                let end = (at + rng.below(40)).min(out.len());
                out.drain(at..end);
            }
            3 => out.truncate(at),
            _ => out.insert(at, rng.next_u64() as u8),
        }
    }
    out
}

#[test]
fn mutated_and_random_bodies_never_panic_and_errors_say_what_is_wrong() {
    let mut rng = Rng::for_property(12);
    let n = fuzz_cases();
    let mut refused = 0;
    for case in 0..n {
        let body = if case % 4 == 0 {
            (0..rng.below(300)).map(|_| rng.next_u64() as u8).collect()
        } else {
            let (envelope, ..) = page(&mut rng);
            mutate(&mut rng, &serde_json::to_vec(&envelope).unwrap())
        };
        match parse_list(&body) {
            Ok(p) => assert!(p.next.as_deref() != Some("")),
            Err(e) => {
                refused += 1;
                assert!(!e.is_empty());
            }
        }
        if let Err(e) = parse_single(&body) {
            assert!(!e.is_empty());
        }
        assert!(!excerpt_bytes(&body).is_empty());
    }
    println!("props_page: {n} mutated or random bodies ({refused} refused with a reason)");
}

#[test]
fn the_page_walk_always_moves_forward() {
    let mut rng = Rng::for_property(13);
    let n = fuzz_cases();
    for _ in 0..n {
        let current = match rng.below(4) {
            0 => u32::MAX,
            1 => rng.below(10) as u32,
            _ => rng.next_u64() as u32,
        };
        let next = match rng.below(3) {
            0 => format!("https://x/api/v3/vendors/?page={}", rng.next_u64() as u32),
            1 => format!("https://x/?page={}&page=1#page=0", rng.below(5)),
            _ => text(&mut rng),
        };
        let _ = page_of(&next);
        let after = next_page(current, &next);
        assert!(
            after > current || current == u32::MAX,
            "page {current} then {after} for next {next:?}: the walk would loop"
        );
    }
    println!("props_page: {n} page steps");
}
