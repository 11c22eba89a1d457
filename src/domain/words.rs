//! Counts and lists in words, as people write them: "1 record", "2 records", "price and
//! title". Messages that are stored (warnings) and pages use the same rules.

/// "1 record", "2 records".
pub fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Words joined as people list them: "price", "price and title", "a, b and c".
pub fn and_list(items: &[impl AsRef<str>]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => format!(
            "{} and {}",
            rest.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

/// "field price", "fields price and title".
pub fn fields_in_words(fields: &[impl AsRef<str>]) -> String {
    match fields.len() {
        0 => String::new(),
        1 => format!("field {}", and_list(fields)),
        _ => format!("fields {}", and_list(fields)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_counts() {
        assert_eq!(count_of(1, "record", "records"), "1 record");
        assert_eq!(count_of(0, "record", "records"), "0 records");
        assert_eq!(and_list(&["price"]), "price");
        assert_eq!(and_list(&["price", "title"]), "price and title");
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(
            fields_in_words(&["price", "title"]),
            "fields price and title"
        );
        assert_eq!(fields_in_words(&["price"]), "field price");
    }
}
