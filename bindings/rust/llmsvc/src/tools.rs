//! Tools (docs/schema.md, "Tools"): the functions a request offers, the calls a reply
//! makes, and the typed pieces of a streamed reply.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::types::CacheControl;

/// A function the model may call (`request.tools[]`), written as OpenAI Chat Completions
/// takes it: `{"type": "function", "function": {"name", "description", "parameters",
/// "strict"}}`. The core maps it to each provider's form and compiles `parameters` at
/// submit (a schema that is not one is refused, naming the field).
///
/// ```
/// use llmsvc::Tool;
/// let t = Tool::new("get_weather")
///     .description("The current weather in a city")
///     .parameters(serde_json::json!({
///         "type": "object",
///         "properties": {"city": {"type": "string"}},
///         "required": ["city"]
///     }))
///     .strict(true);
/// assert_eq!(
///     serde_json::to_value(&t).unwrap()["function"]["name"],
///     "get_weather"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "ToolWire", try_from = "ToolWire")]
pub struct Tool {
    /// 1 to 64 letters, digits, `_` or `-`; unique among the request's tools.
    pub name: String,
    /// What the tool does, for the model.
    pub description: Option<String>,
    /// The JSON Schema of the arguments (an object schema).
    pub parameters: Option<serde_json::Value>,
    /// Arguments checked against `parameters` like structured output.
    pub strict: Option<bool>,
    /// An Anthropic prompt-cache breakpoint after this tool.
    pub cache_control: Option<CacheControl>,
}

impl Tool {
    /// A tool named `name` without description or parameters.
    pub fn new(name: impl Into<String>) -> Tool {
        Tool {
            name: name.into(),
            ..Tool::default()
        }
    }
    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Tool {
        self.description = Some(text.into());
        self
    }
    /// Sets the JSON Schema of the arguments.
    pub fn parameters(mut self, schema: serde_json::Value) -> Tool {
        self.parameters = Some(schema);
        self
    }
    /// Sets strict mode.
    pub fn strict(mut self, strict: bool) -> Tool {
        self.strict = Some(strict);
        self
    }
    /// Sets an Anthropic prompt-cache breakpoint after this tool.
    pub fn cache_control(mut self, cc: CacheControl) -> Tool {
        self.cache_control = Some(cc);
        self
    }
}

/// The wire form of a [`Tool`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolWire {
    #[serde(rename = "type")]
    kind: String,
    function: FunctionWire,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionWire {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

impl From<Tool> for ToolWire {
    fn from(t: Tool) -> ToolWire {
        ToolWire {
            kind: "function".into(),
            function: FunctionWire {
                name: t.name,
                description: t.description,
                parameters: t.parameters,
                strict: t.strict,
            },
            cache_control: t.cache_control,
        }
    }
}

impl TryFrom<ToolWire> for Tool {
    type Error = String;
    fn try_from(w: ToolWire) -> Result<Tool, String> {
        if w.kind != "function" {
            return Err(format!("tool type {:?}: expected \"function\"", w.kind));
        }
        Ok(Tool {
            name: w.function.name,
            description: w.function.description,
            parameters: w.function.parameters,
            strict: w.function.strict,
            cache_control: w.cache_control,
        })
    }
}

/// Whether and which tool the model must call (`request.tool_choice`).
///
/// ```
/// use llmsvc::ToolChoice;
/// assert_eq!(serde_json::to_value(ToolChoice::Required).unwrap(), "required");
/// assert_eq!(
///     serde_json::to_string(&ToolChoice::function("get_weather")).unwrap(),
///     r#"{"type":"function","function":{"name":"get_weather"}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ToolChoice {
    /// The model decides (the default with tools).
    Auto,
    /// No tool call.
    None,
    /// At least one tool call (Anthropic's `any`; Ollama refuses it).
    Required,
    /// A call of this tool (Ollama refuses it).
    Function(String),
}

impl ToolChoice {
    /// A call of the tool `name`.
    pub fn function(name: impl Into<String>) -> ToolChoice {
        ToolChoice::Function(name.into())
    }
}

#[derive(Serialize, Deserialize)]
struct NamedWire {
    name: String,
}

#[derive(Serialize)]
struct ChoiceWire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: NamedRef<'a>,
}

#[derive(Serialize)]
struct NamedRef<'a> {
    name: &'a str,
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Auto => s.serialize_str("auto"),
            ToolChoice::None => s.serialize_str("none"),
            ToolChoice::Required => s.serialize_str("required"),
            ToolChoice::Function(name) => ChoiceWire {
                kind: "function",
                function: NamedRef { name },
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ToolChoice, D::Error> {
        // Both forms the core reads: {"type", "function": {"name"}} and {"type", "name"}.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Mode(String),
            Named {
                #[serde(rename = "type")]
                kind: String,
                #[serde(default)]
                function: Option<NamedWire>,
                #[serde(default)]
                name: Option<String>,
            },
        }
        match Wire::deserialize(d)? {
            Wire::Mode(m) => match m.as_str() {
                "auto" => Ok(ToolChoice::Auto),
                "none" => Ok(ToolChoice::None),
                "required" => Ok(ToolChoice::Required),
                _ => Err(de::Error::custom(format!(
                    "tool_choice {m:?}: expected auto, none, required or a named tool"
                ))),
            },
            Wire::Named {
                kind,
                function,
                name,
            } if kind == "function" => function
                .map(|f| f.name)
                .or(name)
                .map(ToolChoice::Function)
                .ok_or_else(|| de::Error::custom("tool_choice names no tool")),
            Wire::Named { kind, .. } => Err(de::Error::custom(format!(
                "tool_choice type {kind:?}: expected \"function\""
            ))),
        }
    }
}

/// A tool call: in a result ([`Response::tool_calls`](crate::Response::tool_calls), as
/// the core reports it) and in an assistant message sent back in the next round
/// ([`Message::assistant_tool_calls`](crate::Message::assistant_tool_calls), where only
/// `id`, `name` and `arguments` go).
///
/// ```
/// # #[derive(serde::Deserialize)] struct Weather { city: String }
/// let call = llmsvc::ToolCall::new("call_1", "get_weather", r#"{"city":"Paris"}"#);
/// let args: Weather = call.arguments_as().unwrap();
/// assert_eq!(args.city, "Paris");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolCall {
    /// The call's id; a tool message answers it with this `tool_call_id`.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments' JSON text as the model wrote it.
    pub arguments: String,
    /// The arguments parsed, when they are a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments_json: Option<serde_json::Value>,
    /// Why the arguments are not usable: not a JSON object, or how they miss a non-strict
    /// tool's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments_error: Option<String>,
    /// True when the model named a tool the request did not offer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown_tool: bool,
}

impl ToolCall {
    /// A call of `name` with `arguments` (JSON text), as an assistant message carries it.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            ..ToolCall::default()
        }
    }

    /// The arguments converted to `T`: from `arguments_json` when the core parsed them,
    /// else from the text.
    #[cfg(feature = "serde")]
    pub fn arguments_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::Error> {
        let parsed = match &self.arguments_json {
            Some(v) => T::deserialize(v),
            None => serde_json::from_str(&self.arguments),
        };
        parsed.map_err(|e| crate::Error::Decode(format!("arguments of {}: {e}", self.name)))
    }
}

/// `tool_calls` of an assistant message in OpenAI's form:
/// `{"id", "type": "function", "function": {"name", "arguments"}}`.
pub(crate) mod message_calls {
    use super::*;
    use serde::ser::SerializeSeq;

    #[derive(Serialize)]
    struct CallRef<'a> {
        id: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
        function: FunctionRef<'a>,
    }

    #[derive(Serialize)]
    struct FunctionRef<'a> {
        name: &'a str,
        arguments: &'a str,
    }

    #[derive(Deserialize)]
    struct Call {
        id: String,
        function: Function,
    }

    #[derive(Deserialize)]
    struct Function {
        name: String,
        arguments: serde_json::Value,
    }

    /// Serializes a message's calls in the wire form.
    pub(crate) struct Calls<'a>(pub(crate) &'a [ToolCall]);

    impl Serialize for Calls<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for c in self.0 {
                seq.serialize_element(&CallRef {
                    id: &c.id,
                    kind: "function",
                    function: FunctionRef {
                        name: &c.name,
                        arguments: &c.arguments,
                    },
                })?;
            }
            seq.end()
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ToolCall>, D::Error> {
        let calls = Option::<Vec<Call>>::deserialize(d)?.unwrap_or_default();
        Ok(calls
            .into_iter()
            .map(|c| {
                // Arguments are JSON text; the core also reads them written as an object.
                let arguments = match c.function.arguments {
                    serde_json::Value::String(s) => s,
                    v => v.to_string(),
                };
                ToolCall::new(c.id, c.function.name, arguments)
            })
            .collect())
    }
}

/// One of several choices of a reply (`n` > 1; [`Response::choices`](crate::Response::choices)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Choice {
    /// Its position, from 0.
    pub index: u32,
    /// Its text.
    pub text: String,
    /// Why it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Its tool calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Its token log probabilities, as the provider sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<serde_json::Value>,
}

/// One typed piece of a streamed reply ([`Client::stream_pieces`](crate::Client::stream_pieces)).
///
/// A tool call arrives as one [`Piece::ToolCall`] (its id and name) followed by its
/// arguments in [`Piece::ToolArguments`] pieces; `index` tells the calls apart. The final
/// [`Response`](crate::Response) carries the assembled calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Piece {
    /// The next piece of the answer's text.
    Text(String),
    /// Tool call `index` begins.
    ToolCall {
        /// The call's position in the reply, from 0.
        index: u32,
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// The next piece of call `index`'s arguments (JSON text).
    ToolArguments {
        /// The call's position in the reply.
        index: u32,
        /// The piece.
        delta: String,
    },
}
