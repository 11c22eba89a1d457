//! Streams the elements of a JSON array out of a reader as raw byte slices, without parsing
//! them: a small scanner finds where each element ends, so each can be parsed with the fast
//! `serde_json::from_slice` while the file is never held in memory whole.
use std::io::Read;

/// Where an element starts in the input (1-based, like serde_json's positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// Turns a position reported by a parser of the element into one in the whole input.
    pub fn offset(self, line: usize, column: usize) -> Position {
        if line <= 1 {
            Position {
                line: self.line,
                column: self.column + column.saturating_sub(1),
            }
        } else {
            Position {
                line: self.line + line - 1,
                column,
            }
        }
    }
}

/// Why the input is not a JSON array (or could not be read).
#[derive(Debug)]
pub enum StreamError {
    Io(std::io::Error),
    Syntax { message: String, at: Position },
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Io(e) => write!(f, "{e}"),
            StreamError::Syntax { message, at } => {
                write!(f, "{message} at line {} column {}", at.line, at.column)
            }
        }
    }
}

/// Whether the element callback wants more.
pub enum Flow {
    Continue,
    Stop,
}

struct Scanner<R> {
    reader: R,
    buf: Vec<u8>,
    /// Next byte to look at.
    pos: usize,
    eof: bool,
    /// Line and column of `buf[anchor]`; positions are worked out lazily, only when asked for.
    line: usize,
    column: usize,
    anchor: usize,
    chunk: usize,
    /// Bytes of the input dropped from the front of `buf` so far.
    dropped: u64,
}

/// Characters in UTF-8 text: the bytes that are not continuation bytes (`0b10xx_xxxx`), summed
/// in 8-bit lanes a block at a time, which compiles to a few vector instructions per 16 bytes
/// (every element's position is counted this way).
fn count_chars(text: &[u8]) -> usize {
    text.chunks(255)
        .map(|block| {
            block
                .iter()
                .map(|&b| u8::from((b as i8) >= -0x40))
                .fold(0u8, u8::wrapping_add) as usize
        })
        .sum()
}

impl<R: Read> Scanner<R> {
    /// Moves the anchor to `to`, counting the lines and characters in between.
    fn sync(&mut self, to: usize) {
        let span = &self.buf[self.anchor..to];
        let rest = match memchr::memrchr(b'\n', span) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', span).count();
                self.column = 1;
                &span[last + 1..]
            }
            None => span,
        };
        self.column += count_chars(rest);
        self.anchor = to;
    }

    fn here(&mut self) -> Position {
        self.sync(self.pos);
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn syntax(&mut self, message: &str) -> StreamError {
        StreamError::Syntax {
            message: message.to_string(),
            at: self.here(),
        }
    }

    /// Reads more input, keeping `buf[keep_from..]`; returns false at end of input.
    fn fill(&mut self, keep_from: usize) -> Result<bool, StreamError> {
        if self.eof {
            return Ok(false);
        }
        if keep_from > 0 {
            self.sync(keep_from);
            self.buf.drain(..keep_from);
            self.dropped += keep_from as u64;
            self.pos -= keep_from;
            self.anchor -= keep_from;
        }
        let len = self.buf.len();
        self.buf.resize(len + self.chunk, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::Io(e)),
            }
        };
        self.buf.truncate(len + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// The next byte that is not white space, without consuming it.
    fn peek_token(&mut self) -> Result<Option<u8>, StreamError> {
        loop {
            while self.pos < self.buf.len() {
                let b = self.buf[self.pos];
                if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    self.pos += 1;
                } else {
                    return Ok(Some(b));
                }
            }
            let keep = self.pos;
            if !self.fill(keep)? {
                return Ok(None);
            }
        }
    }

    /// Consumes one element and returns its byte range in `buf`.
    fn element(&mut self) -> Result<(usize, usize), StreamError> {
        let mut start = self.pos;
        let (mut depth, mut in_string) = (0usize, false);
        loop {
            while self.pos < self.buf.len() {
                if in_string {
                    // Jump to the next quote or backslash.
                    match memchr::memchr2(b'"', b'\\', &self.buf[self.pos..]) {
                        None => self.pos = self.buf.len(),
                        Some(i) => {
                            let at = self.pos + i;
                            if self.buf[at] == b'\\' {
                                if at + 1 >= self.buf.len() {
                                    // The escaped byte is not read yet.
                                    self.pos = at;
                                    break;
                                }
                                self.pos = at + 2;
                            } else {
                                self.pos = at + 1;
                                in_string = false;
                                if depth == 0 {
                                    return Ok((start, self.pos));
                                }
                            }
                        }
                    }
                    continue;
                }
                let b = self.buf[self.pos];
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    // A scalar ends where the array goes on.
                    b'}' | b']' | b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                        return Ok((start, self.pos));
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            self.pos += 1;
                            return Ok((start, self.pos));
                        }
                    }
                    _ => {}
                }
                self.pos += 1;
            }
            // The element continues past the buffer: keep it, read more.
            if !self.fill(start)? {
                return Err(self.syntax("EOF while parsing a value"));
            }
            start = 0;
        }
    }
}

/// Where an element is in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Line and column of its first byte.
    pub at: Position,
    /// Byte offset of its first byte.
    pub offset: u64,
}

/// The shapes an input may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A JSON array of records.
    Array,
    /// A JSON array of records, or an object whose `data` field is one (the other fields,
    /// wherever they stand, are returned parsed): what `POST /sources/{id}/import` takes.
    ArrayOrObject,
    /// One record per line (NDJSON); blank lines are skipped.
    Lines,
}

/// The fields of an object input other than `data`, parsed, in the order they came.
pub type Envelope = Vec<(String, serde_json::Value)>;

/// Calls `on_element(bytes, place)` for each element of the JSON array in `reader`.
pub fn for_each_element(
    reader: impl Read,
    chunk: usize,
    on_element: impl FnMut(&[u8], Place) -> Result<Flow, StreamError>,
) -> Result<(), StreamError> {
    for_each_element_in(reader, chunk, Shape::Array, on_element).map(|_| ())
}

/// Calls `on_element(bytes, place)` for each record of the input, shaped as `shape` says;
/// returns the other fields of an object input.
pub fn for_each_element_in(
    reader: impl Read,
    chunk: usize,
    shape: Shape,
    mut on_element: impl FnMut(&[u8], Place) -> Result<Flow, StreamError>,
) -> Result<Envelope, StreamError> {
    let mut s = Scanner {
        reader,
        buf: Vec::with_capacity(chunk * 2),
        pos: 0,
        eof: false,
        line: 1,
        column: 1,
        anchor: 0,
        chunk,
        dropped: 0,
    };
    let mut envelope = Envelope::new();
    match (shape, s.peek_token()?) {
        (Shape::Lines, _) => {
            lines(&mut s, &mut on_element)?;
            return Ok(envelope);
        }
        (_, Some(b'[')) => {
            array(&mut s, &mut on_element)?;
        }
        (Shape::ArrayOrObject, Some(b'{')) => {
            s.pos += 1;
            let mut data = false;
            if s.peek_token()? == Some(b'}') {
                s.pos += 1;
            } else {
                loop {
                    if s.peek_token()? != Some(b'"') {
                        return Err(s.syntax("expected a field name in double quotes"));
                    }
                    let at = s.here();
                    let (from, to) = s.element()?;
                    let key: String = parse_at(&s.buf[from..to], at)?;
                    // A field given twice is ambiguous (serde_json would take the last, other
                    // readers the first): refused where the second one starts.
                    if key == "data" && data || envelope.iter().any(|(k, _)| *k == key) {
                        return Err(StreamError::Syntax {
                            message: format!("the field {key:?} is given twice"),
                            at,
                        });
                    }
                    if s.peek_token()? != Some(b':') {
                        return Err(s.syntax("expected `:`"));
                    }
                    s.pos += 1;
                    if key == "data" {
                        data = true;
                        if s.peek_token()? != Some(b'[') {
                            return Err(s.syntax("\"data\" must be an array of records"));
                        }
                        if let Flow::Stop = array(&mut s, &mut on_element)? {
                            return Ok(envelope);
                        }
                    } else {
                        if s.peek_token()?.is_none() {
                            return Err(s.syntax("EOF while parsing an object"));
                        }
                        let at = s.here();
                        let (from, to) = s.element()?;
                        let value = parse_at(&s.buf[from..to], at)?;
                        envelope.push((key, value));
                    }
                    match s.peek_token()? {
                        Some(b',') => s.pos += 1,
                        Some(b'}') => {
                            s.pos += 1;
                            break;
                        }
                        None => return Err(s.syntax("EOF while parsing an object")),
                        Some(_) => return Err(s.syntax("expected `,` or `}`")),
                    }
                }
            }
            if !data {
                return Err(s.syntax(
                    "the object has no \"data\" field: if it is one record, send it in an array \
                     ([{…}]); else send {\"data\": [records]}",
                ));
            }
        }
        (Shape::ArrayOrObject, _) => {
            return Err(s.syntax(
                "expected `[` (a JSON array of records) or `{` (an object with a \"data\" array)",
            ));
        }
        (Shape::Array, _) => return Err(s.syntax("expected `[` (a JSON array of records)")),
    }
    match s.peek_token()? {
        None => Ok(envelope),
        Some(_) => Err(s.syntax("trailing characters")),
    }
}

/// Parses a small piece of the input (a field of the envelope) where it stands.
fn parse_at<T: serde::de::DeserializeOwned>(raw: &[u8], at: Position) -> Result<T, StreamError> {
    serde_json::from_slice(raw).map_err(|e| StreamError::Syntax {
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
        at: at.offset(e.line(), e.column()),
    })
}

/// The elements of the array starting at the scanner (at its `[`).
fn array<R: Read>(
    s: &mut Scanner<R>,
    on_element: &mut impl FnMut(&[u8], Place) -> Result<Flow, StreamError>,
) -> Result<Flow, StreamError> {
    s.pos += 1;
    if s.peek_token()? == Some(b']') {
        s.pos += 1;
        return Ok(Flow::Continue);
    }
    loop {
        match s.peek_token()? {
            None => return Err(s.syntax("EOF while parsing a list")),
            Some(b']') | Some(b',') => return Err(s.syntax("expected a value")),
            Some(_) => {}
        }
        let at = s.here();
        let (from, to) = s.element()?;
        // `element` may have dropped bytes before `from` (never after `at` was taken).
        let offset = s.dropped + from as u64;
        if let Flow::Stop = on_element(&s.buf[from..to], Place { at, offset })? {
            return Ok(Flow::Stop);
        }
        match s.peek_token()? {
            Some(b',') => {
                s.pos += 1;
            }
            Some(b']') => {
                s.pos += 1;
                return Ok(Flow::Continue);
            }
            None => return Err(s.syntax("EOF while parsing a list")),
            Some(_) => return Err(s.syntax("expected `,` or `]`")),
        }
    }
}

/// Each non-blank line of the input as one element (NDJSON).
fn lines<R: Read>(
    s: &mut Scanner<R>,
    on_element: &mut impl FnMut(&[u8], Place) -> Result<Flow, StreamError>,
) -> Result<(), StreamError> {
    // `peek_token` skips white space, blank lines included.
    while s.peek_token()?.is_some() {
        let at = s.here();
        let mut searched = s.pos;
        let end = loop {
            if let Some(i) = memchr::memchr(b'\n', &s.buf[searched..]) {
                break searched + i;
            }
            // The line goes on past the buffer: keep it (it moves to the front), read more.
            let read = s.buf.len() - s.pos;
            if !s.fill(s.pos)? {
                break s.buf.len();
            }
            searched = s.pos + read;
        };
        let from = s.pos;
        let mut to = end;
        while to > from && matches!(s.buf[to - 1], b' ' | b'\t' | b'\r') {
            to -= 1;
        }
        let offset = s.dropped + from as u64;
        if let Flow::Stop = on_element(&s.buf[from..to], Place { at, offset })? {
            return Ok(());
        }
        s.pos = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &str, chunk: usize) -> Result<Vec<(String, Position)>, String> {
        let mut out = Vec::new();
        for_each_element(input.as_bytes(), chunk, |bytes, place| {
            // Each element is where its offset says.
            let offset = place.offset as usize;
            assert_eq!(&input.as_bytes()[offset..offset + bytes.len()], bytes);
            out.push((String::from_utf8(bytes.to_vec()).unwrap(), place.at));
            Ok(Flow::Continue)
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn splits_elements_at_any_buffer_size() {
        let input = "[ {\"a\": [1, {\"b\": \"x]}\\\"\"}]},\n  \"s,\\\\\", 12.5e3 ,true,null,[],{} ,\"é\"]  \n";
        let expected = vec![
            "{\"a\": [1, {\"b\": \"x]}\\\"\"}]}",
            "\"s,\\\\\"",
            "12.5e3",
            "true",
            "null",
            "[]",
            "{}",
            "\"é\"",
        ];
        for chunk in [1, 2, 3, 7, 64, 1 << 16] {
            let got: Vec<String> = split(input, chunk)
                .unwrap()
                .into_iter()
                .map(|e| e.0)
                .collect();
            assert_eq!(got, expected, "chunk {chunk}");
        }
        let positions = split(input, 4).unwrap();
        assert_eq!(positions[0].1, Position { line: 1, column: 3 });
        assert_eq!(positions[1].1, Position { line: 2, column: 3 });
    }

    #[test]
    fn empty_array_and_errors() {
        assert!(split(" [ ] ", 1).unwrap().is_empty());
        let cases = [
            ("", "expected `[`"),
            (
                "{\"id\": 1}",
                "expected `[` (a JSON array of records) at line 1 column 1",
            ),
            ("[{\"id\": 1}", "EOF while parsing a list"),
            ("[{\"id\": 1}, {\"id\": ", "EOF while parsing a value"),
            ("[{\"id\": 1}] x", "trailing characters at line 1 column 13"),
            ("[1,,2]", "expected a value"),
            ("[1 2]", "expected `,` or `]`"),
            ("[\n{\"id\": 1},\n{\"id\"", "at line 3"),
        ];
        for (input, needle) in cases {
            for chunk in [1, 5, 1024] {
                let err = split(input, chunk).unwrap_err();
                assert!(err.contains(needle), "{input:?} chunk {chunk}: {err}");
            }
        }
    }

    fn split_in(
        input: &str,
        chunk: usize,
        shape: Shape,
    ) -> Result<(Vec<String>, Envelope), String> {
        let mut out = Vec::new();
        let envelope = for_each_element_in(input.as_bytes(), chunk, shape, |bytes, place| {
            let offset = place.offset as usize;
            assert_eq!(&input.as_bytes()[offset..offset + bytes.len()], bytes);
            out.push(String::from_utf8(bytes.to_vec()).unwrap());
            Ok(Flow::Continue)
        })
        .map_err(|e| e.to_string())?;
        Ok((out, envelope))
    }

    #[test]
    fn objects_with_a_data_array_and_their_other_fields() {
        let input = r#" {"mode": "full", "data": [{"id": 1}, {"id": "a,]}"}], "strict": true} "#;
        for chunk in [1, 3, 64, 1 << 16] {
            let (records, envelope) = split_in(input, chunk, Shape::ArrayOrObject).unwrap();
            assert_eq!(
                records,
                [r#"{"id": 1}"#, r#"{"id": "a,]}"}"#],
                "chunk {chunk}"
            );
            assert_eq!(
                envelope,
                vec![
                    ("mode".to_string(), serde_json::json!("full")),
                    ("strict".to_string(), serde_json::json!(true))
                ]
            );
        }
        let (records, envelope) = split_in("[1, 2]", 2, Shape::ArrayOrObject).unwrap();
        assert_eq!((records.len(), envelope.len()), (2, 0));
        for (input, needle) in [
            (r#"{"mode": "full"}"#, "no \"data\" field"),
            (r#"{"data": {"id": 1}}"#, "must be an array"),
            (r#"{"data": [], "data": []}"#, "given twice"),
            (
                r#"{"mode": "upsert", "data": [], "mode": "full"}"#,
                "the field \"mode\" is given twice at line 1 column 32",
            ),
            (r#"{data: []}"#, "field name in double quotes"),
            (r#"{"data" []}"#, "expected `:`"),
            (r#"{"data": [] "mode": 1}"#, "expected `,` or `}`"),
            (r#"{"data": [], "mode": tru}"#, "at line 1 column 24"),
            (r#"{"data": [1"#, "EOF while parsing"),
            (r#"{"data": []} x"#, "trailing characters"),
            ("\"x\"", "or `{`"),
        ] {
            for chunk in [1, 4, 1024] {
                let err = split_in(input, chunk, Shape::ArrayOrObject).unwrap_err();
                assert!(err.contains(needle), "{input:?} chunk {chunk}: {err}");
            }
        }
        assert!(
            split_in(r#"{"data": []}"#, 8, Shape::Array)
                .unwrap_err()
                .contains("expected `[`")
        );
    }

    #[test]
    fn lines_are_records() {
        let input = "{\"id\": 1}\n\n  {\"id\": \"x\\n\"} \r\n{\"id\": 3}";
        for chunk in [1, 2, 5, 1 << 16] {
            let (records, _) = split_in(input, chunk, Shape::Lines).unwrap();
            assert_eq!(
                records,
                ["{\"id\": 1}", "{\"id\": \"x\\n\"}", "{\"id\": 3}"],
                "chunk {chunk}"
            );
        }
        assert!(split_in("\n \n", 1, Shape::Lines).unwrap().0.is_empty());
    }

    #[test]
    fn characters_are_counted_not_bytes() {
        for text in ["", "a", "é", "😀x", "aé😀ü\u{7f}"] {
            let long = text.repeat(300);
            assert_eq!(count_chars(long.as_bytes()), long.chars().count(), "{text}");
        }
    }

    #[test]
    fn positions_offset_into_the_whole_input() {
        let at = Position { line: 3, column: 5 };
        assert_eq!(at.offset(1, 4), Position { line: 3, column: 8 });
        assert_eq!(at.offset(2, 4), Position { line: 4, column: 4 });
    }
}
