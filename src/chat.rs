//! Conversations: what a chat sends (system, user and assistant turns, the assistant's tool
//! calls and their results, the tools offered and the shape an answer must take), what the
//! predictor reads of it, and how much of it a request carries.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Who says a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model; only at the start of a conversation.
    System,
    /// The person asking.
    User,
    /// The model's earlier answers.
    Assistant,
    /// The result of one of the assistant's tool calls.
    Tool,
}

/// One turn, as OpenAI's `messages` write it: `{"role": "user", "content": "..."}`, an
/// assistant's `tool_calls`, a tool result's `tool_call_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said (a tool's result, for a tool turn; may be empty beside tool calls, where
    /// OpenAI writes `null`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub content: String,
    /// The tools the assistant called in this turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool turn answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl Message {
    /// A turn of text.
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// What the turn sends, in characters: its text and its calls' names and arguments.
    fn chars(&self) -> usize {
        let calls: usize = (self.tool_calls.iter())
            .map(|c| c.name.chars().count() + c.arguments.chars().count())
            .sum();
        self.content.chars().count() + calls
    }

    fn bytes(&self) -> usize {
        let calls: usize = (self.tool_calls.iter())
            .map(|c| c.name.len() + c.arguments.len() + c.id.len())
            .sum();
        self.content.len() + calls + self.tool_call_id.as_ref().map_or(0, String::len)
    }
}

/// A tool call, as OpenAI writes it: `{"id", "type": "function", "function": {"name",
/// "arguments"}}`, the arguments a JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireCall", into = "WireCall")]
pub struct ToolCall {
    /// The call's id, which its result names.
    pub id: String,
    /// The tool called.
    pub name: String,
    /// Its arguments, a JSON object as text.
    pub arguments: String,
    /// An opaque token the provider that made the call wants back with it (Gemini's thought
    /// signature), written as Google's OpenAI-compatible API writes it:
    /// `extra_content.google.thought_signature`.
    pub signature: Option<String>,
}

impl ToolCall {
    /// The arguments as JSON: an object, `{}` when empty.
    pub fn input(&self) -> std::result::Result<serde_json::Value, String> {
        if self.arguments.trim().is_empty() {
            return Ok(serde_json::json!({}));
        }
        match serde_json::from_str::<serde_json::Value>(&self.arguments) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(_) => Err(format!(
                "the arguments of tool call {:?} are not a JSON object",
                self.id
            )),
            Err(e) => Err(format!(
                "the arguments of tool call {:?} are not JSON: {e}",
                self.id
            )),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCall {
    id: String,
    #[serde(rename = "type", default = "function")]
    kind: String,
    function: WireFunction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra_content: Option<ExtraContent>,
}

#[derive(Serialize, Deserialize)]
struct ExtraContent {
    google: GoogleExtra,
}

#[derive(Serialize, Deserialize)]
struct GoogleExtra {
    thought_signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

fn function() -> String {
    "function".into()
}

impl From<WireCall> for ToolCall {
    fn from(w: WireCall) -> ToolCall {
        ToolCall {
            id: w.id,
            name: w.function.name,
            arguments: w.function.arguments,
            signature: w.extra_content.map(|e| e.google.thought_signature),
        }
    }
}

impl From<ToolCall> for WireCall {
    fn from(c: ToolCall) -> WireCall {
        WireCall {
            id: c.id,
            kind: function(),
            function: WireFunction {
                name: c.name,
                arguments: c.arguments,
            },
            extra_content: c.signature.map(|thought_signature| ExtraContent {
                google: GoogleExtra { thought_signature },
            }),
        }
    }
}

/// A tool the model may call, as OpenAI's `tools` write one (`{"type": "function",
/// "function": {"name", "description", "parameters"}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireTool", into = "WireTool")]
pub struct Tool {
    /// Its name: letters, digits, `_` and `-`, at most 64.
    pub name: String,
    /// What it does, for the model.
    pub description: Option<String>,
    /// Its arguments, as a JSON Schema object.
    pub parameters: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTool {
    #[serde(rename = "type", default = "function")]
    kind: String,
    function: WireToolFunction,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireToolFunction {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default = "empty_object")]
    parameters: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({"type": "object", "properties": {}})
}

impl From<WireTool> for Tool {
    fn from(w: WireTool) -> Tool {
        Tool {
            name: w.function.name,
            description: w.function.description,
            parameters: w.function.parameters,
        }
    }
}

impl From<Tool> for WireTool {
    fn from(t: Tool) -> WireTool {
        WireTool {
            kind: function(),
            function: WireToolFunction {
                name: t.name,
                description: t.description,
                parameters: t.parameters,
                strict: None,
            },
        }
    }
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// No tool may be called.
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Tool(String),
}

/// The shape the answer's text must take: a JSON value matching `schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSchema {
    /// A name for the schema (`[A-Za-z0-9_-]`, at most 64), as OpenAI asks for one.
    pub name: String,
    /// The JSON Schema the answer follows.
    pub schema: serde_json::Value,
}

/// What a request offers and asks beyond its turns: tools, which to call, an answer schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Toolset {
    /// The tools offered.
    pub tools: Vec<Tool>,
    /// Whether and which to call.
    pub choice: ToolChoice,
    /// The shape the answer must take.
    pub output: Option<OutputSchema>,
}

/// Most tools a request may offer.
pub const MAX_TOOLS: usize = 128;

fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Toolset {
    /// Checks the names, the choice and the schemas; the error names what is wrong.
    pub fn new(
        tools: Vec<Tool>,
        choice: ToolChoice,
        output: Option<OutputSchema>,
    ) -> Result<Toolset> {
        let bad = |why: String| Err(Error::Conversation(why));
        if tools.len() > MAX_TOOLS {
            return bad(format!("{} tools, more than {MAX_TOOLS}", tools.len()));
        }
        for (i, t) in tools.iter().enumerate() {
            if !good_name(&t.name) {
                return bad(format!(
                    "tool {i} is named {:?}: use 1 to 64 letters, digits, _ or -",
                    t.name
                ));
            }
            if tools[..i].iter().any(|u| u.name == t.name) {
                return bad(format!("two tools are named {:?}", t.name));
            }
            if !t.parameters.is_object() {
                return bad(format!(
                    "tool {:?}'s parameters are not a JSON Schema object",
                    t.name
                ));
            }
        }
        match &choice {
            ToolChoice::Required if tools.is_empty() => {
                return bad("a tool call is required, but no tool is offered".into())
            }
            ToolChoice::Tool(name) if !tools.iter().any(|t| &t.name == name) => {
                return bad(format!(
                    "the tool choice names {name:?}, which is not offered"
                ))
            }
            _ => {}
        }
        if let Some(o) = &output {
            if !good_name(&o.name) {
                return bad(format!(
                    "the answer schema is named {:?}: use 1 to 64 letters, digits, _ or -",
                    o.name
                ));
            }
            if !o.schema.is_object() {
                return bad("the answer schema is not a JSON Schema object".into());
            }
        }
        Ok(Toolset {
            tools,
            choice,
            output,
        })
    }

    /// Whether the request needs a model that calls tools.
    pub fn needs_tools(&self) -> bool {
        !self.tools.is_empty() && self.choice != ToolChoice::None
    }

    /// Characters the tools and the schema add to the prompt (their JSON).
    pub fn chars(&self) -> usize {
        let tools: usize = (self.tools.iter())
            .map(|t| serde_json::to_string(t).map_or(0, |s| s.chars().count()))
            .sum();
        let output = (self.output.as_ref())
            .and_then(|o| serde_json::to_string(&o.schema).ok())
            .map_or(0, |s| s.chars().count());
        tools + output
    }
}

/// Most turns a conversation may hold.
pub const MAX_MESSAGES: usize = 1000;

/// A conversation a model can answer: system turns (if any) first, then user and assistant
/// turns, the first and the last of them the user's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    messages: Vec<Message>,
    #[serde(skip_serializing_if = "Toolset::is_empty")]
    tools: Toolset,
}

impl Toolset {
    fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.output.is_none()
    }
}

/// One part of a turn, as the formats that take turns as lists of parts (Anthropic, Gemini)
/// write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text.
    Text(String),
    /// An assistant's tool call.
    Call(ToolCall),
    /// A tool's result: the call it answers, the tool's name, what it returned.
    Result {
        /// The call's id.
        id: String,
        /// The tool's name (Gemini matches results by name).
        name: String,
        /// What the tool returned.
        content: String,
    },
}

impl Conversation {
    /// Checks `messages`; the error names the turn that breaks the rules.
    pub fn new(messages: Vec<Message>) -> Result<Conversation> {
        let bad = |why: String| Err(Error::Conversation(why));
        if messages.len() > MAX_MESSAGES {
            return bad(format!(
                "{} turns, more than {MAX_MESSAGES}",
                messages.len()
            ));
        }
        let first_turn = messages.iter().position(|m| m.role != Role::System);
        let Some(first_turn) = first_turn else {
            return bad("it has no user turn".into());
        };
        if messages[first_turn].role != Role::User {
            return bad(format!(
                "turn {first_turn} is the {}'s: after the system turns the user speaks first",
                if messages[first_turn].role == Role::Tool {
                    "tool"
                } else {
                    "assistant"
                }
            ));
        }
        if let Some(i) = (first_turn..messages.len()).find(|&i| messages[i].role == Role::System) {
            return bad(format!(
                "turn {i} is a system turn: system turns may only open the conversation"
            ));
        }
        // The calls still waiting for their results.
        let mut open: Vec<&ToolCall> = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if !m.tool_calls.is_empty() && m.role != Role::Assistant {
                return bad(format!(
                    "turn {i} has tool calls, but only the assistant calls tools"
                ));
            }
            if m.tool_call_id.is_some() && m.role != Role::Tool {
                return bad(format!(
                    "turn {i} names a tool call, but is not a tool turn"
                ));
            }
            if m.role != Role::Tool && !open.is_empty() {
                let ids: Vec<&str> = open.iter().map(|c| c.id.as_str()).collect();
                return bad(format!(
                    "turn {i} comes before the results of tool calls {}",
                    ids.join(", ")
                ));
            }
            match m.role {
                Role::Assistant => {
                    for (j, c) in m.tool_calls.iter().enumerate() {
                        if c.id.is_empty() || !good_name(&c.name) {
                            return bad(format!(
                                "turn {i}'s tool call {j} has no id or a bad name"
                            ));
                        }
                        if m.tool_calls[..j].iter().any(|d| d.id == c.id) {
                            return bad(format!("turn {i} has two tool calls with id {:?}", c.id));
                        }
                        if let Err(why) = c.input() {
                            return bad(format!("turn {i}: {why}"));
                        }
                    }
                    open = m.tool_calls.iter().collect();
                }
                Role::Tool => {
                    let Some(id) = &m.tool_call_id else {
                        return bad(format!(
                            "turn {i} is a tool result that names no tool_call_id"
                        ));
                    };
                    let Some(k) = open.iter().position(|c| &c.id == id) else {
                        return bad(format!(
                            "turn {i} is a result for tool call {id:?}, which no assistant turn just made"
                        ));
                    };
                    open.remove(k);
                }
                _ => {}
            }
        }
        if !open.is_empty() {
            return bad(
                "the last turn's tool calls have no results: there is nothing to answer".into(),
            );
        }
        match messages.last() {
            Some(m) if m.role == Role::User && m.content.trim().is_empty() => {
                Err(Error::EmptyPrompt)
            }
            Some(m) if m.role == Role::User || m.role == Role::Tool => Ok(Conversation {
                messages,
                tools: Toolset::default(),
            }),
            _ => bad(
                "the last turn is not the user's or a tool's: there is nothing to answer".into(),
            ),
        }
    }

    /// This conversation offering `tools` (checked with [`Toolset::new`]).
    pub fn with_tools(mut self, tools: Toolset) -> Conversation {
        self.tools = tools;
        self
    }

    /// A conversation of one user turn.
    pub fn from_prompt(prompt: &str) -> Conversation {
        Conversation {
            messages: vec![Message::new(Role::User, prompt)],
            tools: Toolset::default(),
        }
    }

    /// The turns, in order.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The tools offered, which to call, and the answer's schema.
    pub fn tools(&self) -> &Toolset {
        &self.tools
    }

    /// What a model must do beyond text to take this request: tools when it offers some or
    /// its turns hold calls, a schema when it asks for one.
    pub fn needs(&self) -> Vec<crate::pool::Capability> {
        use crate::pool::Capability;
        let calls = self.messages.iter().any(|m| m.role == Role::Tool);
        let mut needs = Vec::new();
        if self.tools.needs_tools() || calls {
            needs.push(Capability::Tools);
        }
        if self.tools.output.is_some() {
            needs.push(Capability::StructuredOutput);
        }
        needs
    }

    /// What the predictor reads: the last user turn, then the other turns, most recent first,
    /// for as much of them as the encoder takes (it keeps the start of what it is given).
    pub fn routing_text(&self) -> String {
        let turns: Vec<&Message> = (self.messages.iter().rev())
            .filter(|m| m.role != Role::System)
            .collect();
        let first = turns.iter().position(|m| m.role == Role::User).unwrap_or(0);
        let mut text = turns
            .get(first)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        for (_, m) in turns.iter().enumerate().filter(|(i, _)| *i != first) {
            text.push_str("\n\n");
            text.push_str(&m.content);
        }
        text
    }

    /// Characters sent, every turn, tool and schema counted: what a request's cost estimate
    /// reads.
    pub fn chars(&self) -> usize {
        self.messages.iter().map(Message::chars).sum::<usize>() + self.tools.chars()
    }

    /// UTF-8 bytes sent, every turn, tool and schema counted: what a request's worst case
    /// reads (at least the characters).
    pub fn bytes(&self) -> usize {
        self.messages.iter().map(Message::bytes).sum::<usize>() + self.tools.chars() * 4
    }

    /// The turns with system turns apart, tool results given to the user's side and
    /// consecutive turns of one side joined (text parts with a blank line), as the formats
    /// that need strict alternation (Anthropic, Gemini) take them.
    pub fn alternating(&self) -> (Option<String>, Vec<(Role, Vec<Part>)>) {
        let system: Vec<&str> = (self.messages.iter())
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let name_of = |id: &str| {
            (self.messages.iter())
                .flat_map(|m| &m.tool_calls)
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default()
        };
        let mut turns: Vec<(Role, Vec<Part>)> = Vec::new();
        for m in self.messages.iter().filter(|m| m.role != Role::System) {
            let side = if m.role == Role::Assistant {
                Role::Assistant
            } else {
                Role::User
            };
            let mut parts = Vec::new();
            match &m.tool_call_id {
                Some(id) => parts.push(Part::Result {
                    id: id.clone(),
                    name: name_of(id),
                    content: m.content.clone(),
                }),
                None if !m.content.is_empty() || m.tool_calls.is_empty() => {
                    parts.push(Part::Text(m.content.clone()))
                }
                None => {}
            }
            parts.extend(m.tool_calls.iter().cloned().map(Part::Call));
            let turn = match turns.last_mut() {
                Some((role, turn)) if *role == side => turn,
                _ => {
                    turns.push((side, Vec::new()));
                    &mut turns.last_mut().expect("just pushed").1
                }
            };
            for part in parts {
                match (turn.last_mut(), part) {
                    (Some(Part::Text(text)), Part::Text(more)) => {
                        text.push_str("\n\n");
                        text.push_str(&more);
                    }
                    (_, part) => turn.push(part),
                }
            }
        }
        ((!system.is_empty()).then(|| system.join("\n\n")), turns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, content: &str) -> Message {
        Message::new(role, content)
    }

    fn text(t: &str) -> Vec<Part> {
        vec![Part::Text(t.into())]
    }

    #[test]
    fn conversations_follow_the_rules_and_name_the_turn_that_breaks_them() {
        use Role::*;
        let ok = Conversation::new(vec![
            turn(System, "Be brief."),
            turn(User, "What is 2+2?"),
            turn(Assistant, "4."),
            turn(User, "And times 3?"),
        ])
        .unwrap();
        assert_eq!(ok.routing_text(), "And times 3?\n\n4.\n\nWhat is 2+2?");
        assert_eq!(ok.chars(), "Be brief.What is 2+2?4.And times 3?".len());
        let err = |m: Vec<Message>| Conversation::new(m).unwrap_err().to_string();
        assert!(err(vec![]).contains("no user turn"));
        assert!(err(vec![turn(System, "x")]).contains("no user turn"));
        assert!(err(vec![turn(Assistant, "hi"), turn(User, "x")]).contains("turn 0"));
        assert!(err(vec![turn(User, "x"), turn(System, "y"), turn(User, "z")]).contains("turn 1"));
        assert!(err(vec![turn(User, "x"), turn(Assistant, "y")]).contains("last turn"));
        assert!(err(vec![turn(Tool, "x")]).contains("turn 0 is the tool's"));
        assert!(err(vec![turn(User, " ")]).contains("empty"));
        assert!(err(vec![turn(User, "x"); MAX_MESSAGES + 1]).contains("more than"));
    }

    #[test]
    fn alternation_joins_turns_of_one_role_and_sets_system_apart() {
        use Role::*;
        let c = Conversation::new(vec![
            turn(System, "A"),
            turn(System, "B"),
            turn(User, "1"),
            turn(User, "2"),
            turn(Assistant, "3"),
            turn(User, "4"),
        ])
        .unwrap();
        let (system, turns) = c.alternating();
        assert_eq!(system.as_deref(), Some("A\n\nB"));
        assert_eq!(
            turns,
            [
                (User, text("1\n\n2")),
                (Assistant, text("3")),
                (User, text("4"))
            ]
        );
        let one = Conversation::from_prompt("hi");
        assert_eq!(one.routing_text(), "hi");
        assert_eq!(one.alternating(), (None, vec![(User, text("hi"))]));
    }

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            signature: None,
        }
    }

    fn result(id: &str, content: &str) -> Message {
        Message {
            tool_call_id: Some(id.into()),
            ..Message::new(Role::Tool, content)
        }
    }

    fn calling(content: &str, calls: Vec<ToolCall>) -> Message {
        Message {
            tool_calls: calls,
            ..Message::new(Role::Assistant, content)
        }
    }

    #[test]
    fn tool_calls_and_their_results_round_trip_in_openai_shape_and_follow_the_rules() {
        use Role::*;
        let messages: Vec<Message> = serde_json::from_value(serde_json::json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "18 C"},
            {"role": "tool", "tool_call_id": "c2", "content": "24 C"}
        ]))
        .unwrap();
        let c = Conversation::new(messages.clone()).unwrap();
        assert_eq!(
            c.routing_text(),
            "Weather in Paris and Rome?\n\n24 C\n\n18 C\n\n"
        );
        let calls = "weather{\"city\":\"Paris\"}weather{\"city\":\"Rome\"}";
        assert_eq!(
            c.chars(),
            "Weather in Paris and Rome?".len() + calls.len() + 8
        );
        let back = serde_json::to_value(&messages).unwrap();
        assert_eq!(back[1]["tool_calls"][0]["function"]["name"], "weather");
        assert_eq!(back[1]["tool_calls"][0]["type"], "function");
        assert_eq!(back[2]["tool_call_id"], "c1");
        let (_, turns) = c.alternating();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[1].0, Assistant);
        assert_eq!(
            turns[1].1,
            [
                Part::Call(call("c1", "weather", "{\"city\":\"Paris\"}")),
                Part::Call(call("c2", "weather", "{\"city\":\"Rome\"}"))
            ]
        );
        assert_eq!(turns[2].0, User);
        assert_eq!(
            turns[2].1[1],
            Part::Result {
                id: "c2".into(),
                name: "weather".into(),
                content: "24 C".into()
            }
        );
        let err = |m: Vec<Message>| Conversation::new(m).unwrap_err().to_string();
        let asked = || vec![turn(User, "x"), calling("", vec![call("c1", "f", "{}")])];
        assert!(err(asked()).contains("have no results"));
        assert!(err([asked(), vec![turn(User, "y")]].concat())
            .contains("before the results of tool calls c1"));
        assert!(err([asked(), vec![result("c9", "r")]].concat()).contains("\"c9\""));
        assert!(
            err(vec![turn(User, "x"), result("c1", "r")]).contains("no assistant turn just made")
        );
        assert!(err(vec![
            turn(User, "x"),
            Message {
                tool_call_id: None,
                ..Message::new(Tool, "r")
            }
        ])
        .contains("names no tool_call_id"));
        assert!(err(vec![Message {
            tool_calls: vec![call("c", "f", "{}")],
            ..turn(User, "x")
        }])
        .contains("only the assistant"));
        assert!(err(vec![
            turn(User, "x"),
            calling("", vec![call("c", "f", "{}"), call("c", "g", "{}")])
        ])
        .contains("two tool calls"));
        assert!(err(vec![
            turn(User, "x"),
            calling("", vec![call("c", "bad name", "{}")])
        ])
        .contains("bad name"));
        assert!(err(vec![
            turn(User, "x"),
            calling("", vec![call("c", "f", "[1]")])
        ])
        .contains("not a JSON object"));
        // A user turn after the results is fine, and routes on itself.
        let more = Conversation::new(
            [asked(), vec![result("c1", "r"), turn(User, "thanks, and?")]].concat(),
        )
        .unwrap();
        assert!(more.routing_text().starts_with("thanks, and?"));
    }

    #[test]
    fn toolsets_are_checked_and_count_toward_the_prompt() {
        let tool: Tool = serde_json::from_value(serde_json::json!({"type": "function", "function": {
            "name": "weather", "description": "today's weather", "parameters": {"type": "object"}}}))
        .unwrap();
        let ok =
            Toolset::new(vec![tool.clone()], ToolChoice::Tool("weather".into()), None).unwrap();
        assert!(ok.needs_tools());
        assert!(ok.chars() > 40);
        let c = Conversation::from_prompt("hi").with_tools(ok.clone());
        assert_eq!(c.chars(), 2 + ok.chars());
        let err = |t: Vec<Tool>, choice: ToolChoice, o: Option<OutputSchema>| {
            Toolset::new(t, choice, o).unwrap_err().to_string()
        };
        assert!(
            err(vec![tool.clone(), tool.clone()], ToolChoice::Auto, None).contains("two tools")
        );
        assert!(err(vec![], ToolChoice::Required, None).contains("no tool is offered"));
        assert!(err(vec![tool.clone()], ToolChoice::Tool("w".into()), None).contains("\"w\""));
        let renamed = Tool {
            name: "a b".into(),
            ..tool.clone()
        };
        assert!(err(vec![renamed], ToolChoice::Auto, None).contains("\"a b\""));
        let schema = OutputSchema {
            name: "answer".into(),
            schema: serde_json::json!(3),
        };
        assert!(err(vec![], ToolChoice::Auto, Some(schema)).contains("not a JSON Schema"));
        let none = Toolset::new(vec![tool], ToolChoice::None, None).unwrap();
        assert!(!none.needs_tools());
    }
}
