//! Inputs the fuzz targets in `fuzz/` found, kept as tests (the same inputs are in
//! `fuzz/seeds/`, where each fuzzing run starts).
use serde_json::Value;
use sync_manager::domain::canonical::{canonical_and_hash, canonical_string};
use sync_manager::ingest::json_stream::{Flow, Shape, for_each_element_in};

/// A number serde_json's default float parser read 1 ulp off: the canonical text of a record
/// holding it changed when it was parsed again, so an edit of another field (which parses the
/// stored text) silently changed this number, and the record's hash with it.
#[test]
fn canonical_text_of_a_long_number_reads_back_the_same() {
    let input = b"-111111111111111111111111111111111111111111";
    for text in [&input[..26], &input[..]] {
        let value: Value = serde_json::from_slice(text).unwrap();
        let (canonical, hash) = canonical_and_hash(&value, 0);
        let again: Value = serde_json::from_str(&canonical).unwrap();
        assert_eq!(again, value, "{canonical} reads back as another number");
        assert_eq!(canonical_and_hash(&again, 0), (canonical.clone(), hash));
        let record: Value =
            serde_json::from_str(&format!("{{\"id\":\"A\",\"n\":{canonical}}}")).unwrap();
        assert_eq!(
            canonical_string(&record),
            format!("{{\"id\":\"A\",\"n\":{canonical}}}")
        );
    }
}

/// An import envelope whose other field holds bytes that are not UTF-8: refused with where
/// and why (serde_json, skipping the field, would have taken it).
#[test]
fn an_envelope_field_that_is_not_utf8_is_refused_with_its_place() {
    let mut body = b"{\"*ode\":\"".to_vec();
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    body.extend_from_slice(b"fu)ll\",\"data\":[{\"id\":\"A\"},{\"id\":\"B\"}],\"strict\":false}");
    let (err, seen) = refusal(&body, 7);
    assert!(
        err.contains("invalid unicode code point at line 1 column 10"),
        "{err}"
    );
    assert_eq!(
        seen, 0,
        "records were handed on before the envelope was refused"
    );
}

/// An envelope giving a field twice (`"mode": "fu-ll"`, later `"mode": "full"`): serde_json
/// takes the last, the import took the first, so what a body asked for depended on the
/// reader. Refused, saying which field and where its second copy starts.
#[test]
fn an_envelope_field_given_twice_is_refused() {
    let body = br#"{"mode":"fu-ll","data":[{"id":"B"}],"ct":1,"mode":"full"}"#;
    for chunk in [1, 5, 4096] {
        let (err, seen) = refusal(body, chunk);
        assert!(
            err.contains("the field \"mode\" is given twice at line 1 column 44"),
            "chunk {chunk}: {err}"
        );
        assert_eq!(
            seen, 1,
            "the records before the second field are read, no more"
        );
    }
}

/// The error an import body (read `chunk` bytes at a time) is refused with, and how many
/// records were handed on before it.
fn refusal(body: &[u8], chunk: usize) -> (String, usize) {
    let mut seen = 0;
    let err = for_each_element_in(body, chunk, Shape::ArrayOrObject, |_, _| {
        seen += 1;
        Ok(Flow::Continue)
    })
    .unwrap_err()
    .to_string();
    (err, seen)
}
