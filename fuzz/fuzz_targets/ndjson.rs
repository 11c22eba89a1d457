//! The NDJSON reader: every non-blank line is one element, handed over without its line end
//! and trailing white space, whatever the read sizes; errors, never panics.
#![no_main]
#[path = "dribble.rs"]
mod dribble;
use dribble::{Dribble, knobs};
use libfuzzer_sys::fuzz_target;
use sync_manager::ingest::json_stream::{Flow, Shape, for_each_element_in};

fn is_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fuzz_target!(|input: &[u8]| {
    let Some((step, chunk, data)) = knobs(input) else {
        return;
    };
    let mut elements: Vec<Vec<u8>> = Vec::new();
    let scanned = for_each_element_in(
        Dribble { data, step },
        chunk,
        Shape::Lines,
        |bytes, place| {
            assert_eq!(
                &data[place.offset as usize..][..bytes.len()],
                bytes,
                "wrong offset"
            );
            elements.push(bytes.to_vec());
            Ok(Flow::Continue)
        },
    );
    scanned.expect("reading lines from memory cannot fail");
    let expected: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .map(|line| {
            let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
            let end = line
                .iter()
                .rposition(|b| !is_space(b))
                .map_or(start, |i| i + 1);
            &line[start..end]
        })
        .filter(|line| !line.is_empty())
        .collect();
    let found: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    assert_eq!(found, expected);
});
