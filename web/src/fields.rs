//! The inspector's fields: every setting of a node or an edge under its real name, read from
//! and written to the spec's JSON form, so the core's own parser checks every value.

use serde_json::{Map, Value};
use switchboard_core::scenario::{EdgeSpec, NodeSpec};

/// How a field is edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A whole number; empty means "not set" where the setting is optional.
    Int,
    /// A number.
    Float,
    /// A checkbox.
    Bool,
    /// Text; empty means "not set" where the setting is optional.
    Text,
    /// One of these values.
    Choice(&'static [&'static str]),
    /// A duration: `"250ms"`, or a distribution as JSON.
    Duration,
    /// Any JSON value (objects, lists, tagged settlements).
    Json,
}

/// One setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The real name, as RabbitMQ or the scenario format writes it.
    pub name: &'static str,
    /// Where it lives in the node's `config` (or the edge) object.
    pub path: &'static [&'static str],
    /// How it is edited.
    pub ty: FieldType,
    /// What it does, in a few words.
    pub help: &'static str,
}

pub(crate) const fn f(
    name: &'static str,
    path: &'static [&'static str],
    ty: FieldType,
    help: &'static str,
) -> Field {
    Field {
        name,
        path,
        ty,
        help,
    }
}

use FieldType::*;

/// The field's current value as the text the input shows.
pub fn read(root: &Value, field: &Field) -> String {
    let mut v = root;
    for key in field.path {
        match v.get(key) {
            Some(x) => v = x,
            None => return String::new(),
        }
    }
    match (field.ty, v) {
        (_, Value::Null) => String::new(),
        (_, Value::String(s)) => s.clone(),
        (Duration, Value::Object(o)) if o.get("dist") == Some(&Value::from("constant")) => o
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        (Bool, Value::Bool(b)) => b.to_string(),
        (_, other) => other.to_string(),
    }
}

/// Sets the field to the text typed. Empty text removes an optional setting (the parser then
/// applies its default). Returns what is wrong with the text, if it cannot be a value at all.
pub fn write(root: &mut Value, field: &Field, text: &str) -> Result<(), String> {
    let text = text.trim();
    let value = if text.is_empty() {
        None
    } else {
        Some(match field.ty {
            Int => Value::from(
                text.parse::<i64>()
                    .map_err(|_| format!("{:?} is not a whole number", text))?,
            ),
            Float => {
                let x: f64 = text
                    .parse()
                    .map_err(|_| format!("{:?} is not a number", text))?;
                serde_json::Number::from_f64(x)
                    .map(Value::Number)
                    .ok_or_else(|| format!("{text:?} is not a finite number"))?
            }
            Bool => Value::Bool(text == "true"),
            Text | Choice(_) => Value::from(text),
            Duration if text.starts_with('{') => serde_json::from_str(text)
                .map_err(|e| format!("not a duration distribution: {e}"))?,
            Duration => Value::from(text),
            Json => serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?,
        })
    };
    let (last, parents) = field.path.split_last().expect("fields have paths");
    let mut obj = root;
    for key in parents {
        if !obj.get(key).is_some_and(Value::is_object) {
            if value.is_none() {
                return Ok(());
            }
            obj[key] = Value::Object(Map::new());
        }
        obj = obj.get_mut(key).expect("just made");
    }
    let Some(map) = obj.as_object_mut() else {
        return Err("the setting's parent is not an object".into());
    };
    match value {
        Some(v) => {
            map.insert((*last).to_owned(), v);
        }
        None => {
            map.remove(*last);
        }
    }
    Ok(())
}

/// A node's spec with one field set, parsed back by the core (so its rules name what is
/// wrong).
pub fn set_node_field(spec: &NodeSpec, field: &Field, text: &str) -> Result<NodeSpec, String> {
    let mut v = serde_json::to_value(spec).map_err(|e| e.to_string())?;
    if !v.get("config").is_some_and(Value::is_object) {
        v["config"] = Value::Object(Map::new());
    }
    write(&mut v["config"], field, text)?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// A node's field, as text.
pub fn node_field(spec: &NodeSpec, field: &Field) -> String {
    let v = serde_json::to_value(spec).unwrap_or(Value::Null);
    read(&v["config"], field)
}

/// An edge's spec with one field set.
pub fn set_edge_field(spec: &EdgeSpec, field: &Field, text: &str) -> Result<EdgeSpec, String> {
    let mut v = serde_json::to_value(spec).map_err(|e| e.to_string())?;
    write(&mut v, field, text)?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// An edge's field, as text.
pub fn edge_field(spec: &EdgeSpec, field: &Field) -> String {
    let v = serde_json::to_value(spec).unwrap_or(Value::Null);
    read(&v, field)
}

/// A node's whole config as pretty JSON, for the advanced editor.
pub fn config_json(spec: &NodeSpec) -> String {
    let v = serde_json::to_value(spec).unwrap_or(Value::Null);
    serde_json::to_string_pretty(&v["config"]).unwrap_or_default()
}

/// A node's spec with its whole config replaced by `text`.
pub fn set_config_json(spec: &NodeSpec, text: &str) -> Result<NodeSpec, String> {
    let config: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut v = serde_json::to_value(spec).map_err(|e| e.to_string())?;
    v["config"] = config;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::amqp::{BINDING, CONSUMER, QUEUE};
    use crate::models::kernel::WIRE;

    fn default_spec(name: &str, kind: &str, variant: Option<&str>) -> Result<NodeSpec, String> {
        crate::models::default_spec(name, crate::models::palette_item(kind, variant).unwrap())
    }

    #[test]
    fn every_field_round_trips_its_own_value_on_every_palette_kind() {
        for item in crate::models::palette() {
            let kind = item.label;
            let spec = crate::models::default_spec("n", item).unwrap();
            for field in crate::models::fields(&spec.kind) {
                let text = node_field(&spec, field);
                let back = set_node_field(&spec, field, &text)
                    .unwrap_or_else(|e| panic!("{kind}.{}: {e}", field.name));
                assert_eq!(
                    back, spec,
                    "{kind}.{} = {text:?} changes nothing",
                    field.name
                );
            }
        }
    }

    #[test]
    fn fields_write_under_their_real_names() {
        let q = default_spec("q", "queue", None).unwrap();
        let field = QUEUE.iter().find(|f| f.name == "x-message-ttl").unwrap();
        let q2 = set_node_field(&q, field, "5000").unwrap();
        assert_eq!(node_field(&q2, field), "5000");
        let json = serde_json::to_string(&q2).unwrap();
        assert!(json.contains(r#""x-message-ttl":5000"#), "{json}");
        // Emptying it removes the setting again.
        assert_eq!(set_node_field(&q2, field, "").unwrap(), q);
    }

    #[test]
    fn bad_values_are_named() {
        let c = default_spec("c", "consumer", None).unwrap();
        let prefetch = CONSUMER
            .iter()
            .find(|f| f.name == "prefetch_count")
            .unwrap();
        assert!(set_node_field(&c, prefetch, "many")
            .unwrap_err()
            .contains("not a whole number"));
        let err = set_node_field(&c, prefetch, "70000").unwrap_err();
        assert!(
            !err.is_empty(),
            "out of range for u16 is refused by the parser"
        );
        let processing = CONSUMER.iter().find(|f| f.name == "processing").unwrap();
        assert_eq!(node_field(&c, processing), "300ms");
        assert!(set_node_field(&c, processing, "soon").is_err());
        let p = set_node_field(&c, processing, "1s").unwrap();
        assert_eq!(node_field(&p, processing), "1s");
    }

    #[test]
    fn config_json_round_trips() {
        let p = default_spec("p", "producer", None).unwrap();
        assert_eq!(set_config_json(&p, &config_json(&p)).unwrap(), p);
        assert!(set_config_json(&p, "{").unwrap_err().contains("not JSON"));
        assert!(set_config_json(&p, r#"{"rate_per_s": 1, "bogus": 2}"#).is_err());
    }

    #[test]
    fn edge_fields() {
        let e = EdgeSpec::new("x", "q");
        let key = BINDING[0];
        let e2 = set_edge_field(&e, &key, "orders.*").unwrap();
        assert_eq!(edge_field(&e2, &key), "orders.*");
        let args = BINDING[1];
        let e3 = set_edge_field(&e, &args, r#"{"x-match":"all","type":"report"}"#).unwrap();
        assert!(edge_field(&e3, &args).contains("x-match"));
        let lat = WIRE[0];
        let e4 = set_edge_field(&e, &lat, "20ms").unwrap();
        assert_eq!(edge_field(&e4, &lat), "20ms");
    }
}
