//! `Strict<T>`: a request body field that takes only its own JSON type. poem-openapi reads a
//! `String` field from a number or a boolean too (`{"name": false}` became `"false"`) and an
//! integer or boolean field from a string, although the document says `string`, `integer` or
//! `boolean`; wrapped, such a field is refused (400) as the document says.
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub struct Strict<T>(pub T);

impl<T: Type> Type for Strict<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_raw_value()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.0.raw_element_iter()
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Strict<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        if let (Some(v), MetaSchemaRef::Inline(schema)) = (&value, T::schema_ref()) {
            let fits = match schema.ty {
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "boolean" => v.is_boolean(),
                _ => true,
            };
            if !fits {
                return Err(ParseError::expected_type(v.clone()));
            }
        }
        T::parse_from_json(value)
            .map(Strict)
            .map_err(ParseError::propagate)
    }
}

impl<T: ToJSON> ToJSON for Strict<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_its_own_type() {
        assert_eq!(
            Strict::<String>::parse_from_json(Some(json!("a"))).unwrap(),
            Strict("a".to_string())
        );
        assert!(Strict::<String>::parse_from_json(Some(json!(false))).is_err());
        assert!(Strict::<String>::parse_from_json(Some(json!(7))).is_err());
        assert!(Strict::<i32>::parse_from_json(Some(json!("7"))).is_err());
        assert_eq!(
            Strict::<i32>::parse_from_json(Some(json!(7))).unwrap(),
            Strict(7)
        );
        assert!(Strict::<bool>::parse_from_json(Some(json!("true"))).is_err());
        assert!(
            Strict::<bool>::parse_from_json(Some(json!(true)))
                .unwrap()
                .0
        );
        // As an optional field: absent and null are None.
        assert_eq!(
            Option::<Strict<String>>::parse_from_json(None).unwrap(),
            None
        );
        assert_eq!(
            Option::<Strict<String>>::parse_from_json(Some(Value::Null)).unwrap(),
            None
        );
        assert!(Option::<Strict<String>>::parse_from_json(Some(json!(1))).is_err());
    }
}
