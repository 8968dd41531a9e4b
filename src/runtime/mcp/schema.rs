//! The tools' output schemas are the project's own JSON schemas (`assets/schema/`), so
//! that a document is described once: `why_port` returns exactly the `why --json`
//! document, `info` the `info --json` one, and the wrappers of `list_sockets` and
//! `recent_events` embed the `list` and `watch` schemas whole.

use serde_json::{Map, Value, json};

pub const WHY: &str = include_str!("../../../assets/schema/why.schema.json");
pub const LIST: &str = include_str!("../../../assets/schema/list.schema.json");
pub const WATCH: &str = include_str!("../../../assets/schema/watch.schema.json");
pub const INFO: &str = include_str!("../../../assets/schema/info.schema.json");

/// A schema file as a tool's output schema: without its `$id` (a relative name that
/// would become the base of its `$ref`s in a client's validator).
pub fn document(text: &str) -> Map<String, Value> {
    let mut v = parse(text);
    v.remove("$id");
    v
}

/// An object schema whose property `name` is the schema in `text`: its `$defs` move to
/// the top, where its `#/$defs/…` references then point. `extra` adds properties (all
/// required).
pub fn wrap(text: &str, name: &str, as_array: bool, extra: &[(&str, Value)]) -> Map<String, Value> {
    let mut inner = parse(text);
    let defs = inner.remove("$defs").unwrap_or_else(|| json!({}));
    for k in ["$schema", "$id"] {
        inner.remove(k);
    }
    let inner = Value::Object(inner);
    let mut props = Map::new();
    props.insert(
        name.to_owned(),
        if as_array {
            json!({"type": "array", "items": inner})
        } else {
            inner
        },
    );
    let mut required = vec![Value::from(name)];
    for (k, v) in extra {
        props.insert((*k).to_owned(), v.clone());
        required.push(Value::from(*k));
    }
    let v = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": props,
        "$defs": defs,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A hand-written schema (a `json!` object) as a map.
pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The compiled-in schemas are tested to be objects; a broken one would be an empty
/// schema (accepting anything), never a panic.
fn parse(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schemas_are_objects_and_wrapping_keeps_their_references() {
        for text in [WHY, LIST, WATCH, INFO] {
            let d = document(text);
            assert_eq!(d.get("type"), Some(&json!("object")));
            assert!(!d.contains_key("$id"));
        }
        let w = wrap(
            LIST,
            "list",
            false,
            &[("truncated", json!({"type": "boolean"}))],
        );
        let text = Value::Object(w.clone()).to_string();
        // Every reference names a definition that the wrapper carries.
        for r in text.split("\"$ref\":\"#/$defs/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(w["$defs"].get(name).is_some(), "missing $defs/{name}");
        }
        assert_eq!(w["required"], json!(["list", "truncated"]));
    }
}
