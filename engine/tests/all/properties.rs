//! Property tests of event data (proptest, on the stable toolchain): any text either parses as `Json` or
//! is refused with a message, and any JSON value within the nesting limit survives the trip through
//! `Json` unchanged. `scripts/test` sets the number of cases (`PROPTEST_CASES`).

use proptest::prelude::*;
use serde_json::Value;
use weft_engine::data::Json;

/// JSON values up to 6 levels deep, with text of any Unicode.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_text_parses_or_is_refused_with_a_message(text in "[ -~\\\\\u{80}-\u{10ffff}]{0,200}") {
        if let Err(e) = Json::parse(text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn nested_brackets_are_refused_past_the_depth_limit(depth in 1usize..400) {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let parsed = Json::parse(text);
        prop_assert_eq!(parsed.is_ok(), depth <= 127, "depth {}", depth);
    }

    #[test]
    fn json_values_survive_the_trip(value in json()) {
        let data = Json::from_value(&value).expect("shallow values are accepted");
        prop_assert_eq!(data.to_value(), value.clone());
        let again = Json::parse(data.as_str().to_string()).expect("its own text parses");
        prop_assert_eq!(again.to_value(), value);
    }
}
