//! Property tests of the connector's XML side, run natively: the XML, WSDL and
//! reply/fault readers never panic on mutated real documents (seeded from the
//! PeopleSoft emulator) or on random bytes, and text written into a request
//! envelope reads back unchanged. A small seeded generator stands in for a
//! fuzzer so this runs in CI; `MLC_FUZZ_CASES` sets the cases per property
//! (400 by default) and `MLC_SEED` replays a run.

use connector_peoplesoft::config::SoapVersion;
use connector_peoplesoft::fault::{CallContext, CallKind, read_reply, read_wsdl_reply};
use connector_peoplesoft::xml::{self, OutElement};
use connector_peoplesoft::{envelope, wsdl};
use mlc_sandbox::exchange::{Handler, Request};
use mlc_sandbox::peoplesoft::{PeopleSoftConfig, PeopleSoftEmulator};
use mlc_sandbox::seeded::{Rng, fuzz_cases};

/// Fragments that steer mutations toward the parser's hard cases.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "&amp;",
    "&#x0;",
    "&#1114112;",
    "&lol;",
    "<!DOCTYPE r [<!ENTITY lol \"lol\">]>",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?xml version=\"1.0\"?>",
    " xmlns:soapenv=\"\"",
    " xmlns=\"urn:x\"",
    "x:",
    "=\"",
    "\"",
    "\u{0}",
    "\u{feff}",
    "é",
    "<soapenv:Fault><faultstring>",
    "</soapenv:Fault>",
];

/// Applies 1-8 random edits: bit flips, inserted bytes or tokens, deleted,
/// duplicated or truncated ranges.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next_u64() as u8),
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, t.iter().copied());
            }
            3 => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(256)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            5 => out.truncate(at),
            _ => {
                let n = rng.below(32);
                for _ in 0..n {
                    out.insert(at.min(out.len()), (rng.next_u64() % 128) as u8);
                }
            }
        }
    }
    out
}

fn get(emulator: &PeopleSoftEmulator, path: &str) -> Vec<u8> {
    let request = Request {
        method: http::Method::GET,
        path: path.to_string(),
        query: Vec::new(),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
        origin: "http://127.0.0.1:8702".into(),
    };
    emulator.handle(&request).body.to_vec()
}

/// Real documents to mutate: WSDLs of the emulator and typical replies.
fn seeds() -> Vec<Vec<u8>> {
    let emulator = PeopleSoftEmulator::new(PeopleSoftConfig::default());
    let mut seeds = Vec::new();
    for service in ["CI_PO_EXPRESS", "QAS_QRY_SERVICE", "VENDOR_SYNC"] {
        let wsdl = get(
            &emulator,
            &format!("/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP/{service}.1.wsdl"),
        );
        if wsdl.starts_with(b"<?xml") || wsdl.starts_with(b"<wsdl") {
            seeds.push(wsdl);
        }
    }
    assert!(
        !seeds.is_empty(),
        "the emulator served no WSDL to seed from"
    );
    seeds.push(
        br#"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><Find__CompIntfc__PO_EXPRESSResponse xmlns="urn:m1"><PO_EXPRESS><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000100010</PO_ID><PO_REF>R1-V1</PO_REF></PO_EXPRESS></Find__CompIntfc__PO_EXPRESSResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#.to_vec(),
    );
    seeds.push(
        br#"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>Invalid value (91,34)</faultstring><detail><IBResponse type="error"><DefaultTitle>Integration Broker Response</DefaultTitle><StatusCode>20</StatusCode><MessageID>10505</MessageID><DefaultMessage>Service Operation CI_PO_EXPRESS_C is inactive.</DefaultMessage></IBResponse></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#.to_vec(),
    );
    seeds
}

fn contexts() -> Vec<CallContext> {
    let ctx = |operation: &str, kind| CallContext {
        operation: operation.into(),
        node: "PSFT_EP".into(),
        kind,
    };
    vec![
        ctx("CI_PO_EXPRESS_C", CallKind::Create),
        ctx("CI_PO_EXPRESS_F", CallKind::Find),
        ctx(
            "QAS_EXECUTEQRYSYNC_OPER",
            CallKind::Query("MLC_VOUCHERS".into()),
        ),
        ctx("CI_PO_EXPRESS", CallKind::Wsdl("CI_PO_EXPRESS".into())),
    ]
}

#[test]
fn xml_wsdl_and_reply_readers_never_panic_on_mutated_documents() {
    let seeds = seeds();
    let contexts = contexts();
    let mut rng = Rng::for_property(1);
    let mut parsed = 0;
    let n = fuzz_cases();
    for case in 0..n {
        let seed = &seeds[case % seeds.len()];
        let input = mutate(&mut rng, seed);
        if xml::parse(&input).is_ok() {
            parsed += 1;
        }
        let _ = wsdl::parse(&input, SoapVersion::V11);
        let _ = wsdl::parse(&input, SoapVersion::V12);
        let status = [200u16, 500, 401, 403, 404, 429, 503][rng.below(7)];
        for ctx in &contexts {
            if let Err(f) = read_reply(status, Some(3), &input, ctx) {
                assert!(!format!("{f:?}").is_empty());
            }
            let _ = read_wsdl_reply(status, None, &input, ctx);
        }
    }
    println!(
        "props_xml: {n} mutated documents ({parsed} still well-formed) through xml, wsdl (x2) and reply readers (x{})",
        contexts.len() * 2
    );
}

#[test]
fn readers_never_panic_on_random_bytes() {
    let mut rng = Rng::for_property(2);
    let contexts = contexts();
    let n = fuzz_cases();
    for _ in 0..n {
        let len = rng.below(512);
        let input: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let _ = xml::parse(&input);
        let _ = wsdl::parse(&input, SoapVersion::V11);
        for ctx in &contexts {
            let _ = read_reply(200, None, &input, ctx);
        }
    }
    println!("props_xml: {n} random byte strings");
}

/// Characters a business field may hold, including XML's special ones.
const ALPHABET: &[char] = &[
    'a', 'Z', '0', ' ', '<', '>', '&', '\'', '"', ';', '#', '%', ']', '\t', '\n', 'é', 'ß', '中',
    '🙂', '\u{a0}', '=', '/', '?', '!', '-',
];

#[test]
fn text_written_into_an_envelope_reads_back_unchanged() {
    let mut rng = Rng::for_property(3);
    let n = fuzz_cases();
    for _ in 0..n {
        let len = rng.below(40);
        let text: String = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        for version in [SoapVersion::V11, SoapVersion::V12] {
            let body = OutElement::new("Create__CompIntfc__PO_EXPRESS")
                .in_ns("http://xmlns.oracle.com/Enterprise/Tools/schemas/M1.V1")
                .with(OutElement::leaf("PO_REF", text.clone()))
                .with(OutElement::leaf("DESCR254_MIXED", format!("{text}{text}")));
            let document = envelope::build(version, &body);
            let root = xml::parse_str(&document)
                .unwrap_or_else(|e| panic!("{text:?}: the envelope does not parse: {e:?}"));
            let read = |name: &str| root.find(name).map(|e| e.text.clone());
            assert_eq!(read("PO_REF").as_deref(), Some(text.as_str()), "{document}");
            assert_eq!(
                read("DESCR254_MIXED"),
                Some(format!("{text}{text}")),
                "{document}"
            );
        }
    }
    println!("props_xml: {n} texts round-tripped through SOAP 1.1 and 1.2 envelopes");
}
