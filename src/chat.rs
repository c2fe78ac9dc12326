//! Conversations: what a chat sends (system, user and assistant turns), what the predictor
//! reads of it, and how much of it a request carries.

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
}

/// One turn, as OpenAI's `messages` write it: `{"role": "user", "content": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

/// Most turns a conversation may hold.
pub const MAX_MESSAGES: usize = 1000;

/// A conversation a model can answer: system turns (if any) first, then user and assistant
/// turns, the first and the last of them the user's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Conversation(Vec<Message>);

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
                "turn {first_turn} is the assistant's: after the system turns the user speaks first"
            ));
        }
        if let Some(i) = (first_turn..messages.len()).find(|&i| messages[i].role == Role::System) {
            return bad(format!(
                "turn {i} is a system turn: system turns may only open the conversation"
            ));
        }
        if messages.last().map(|m| m.role) != Some(Role::User) {
            return bad("the last turn is not the user's: there is nothing to answer".into());
        }
        if messages.last().is_some_and(|m| m.content.trim().is_empty()) {
            return Err(Error::EmptyPrompt);
        }
        Ok(Conversation(messages))
    }

    /// A conversation of one user turn.
    pub fn from_prompt(prompt: &str) -> Conversation {
        Conversation(vec![Message {
            role: Role::User,
            content: prompt.to_string(),
        }])
    }

    /// The turns, in order.
    pub fn messages(&self) -> &[Message] {
        &self.0
    }

    /// What the predictor reads: the last user turn, then the earlier turns, most recent first,
    /// for as much of them as the encoder takes (it keeps the start of what it is given).
    pub fn routing_text(&self) -> String {
        let mut turns = self.0.iter().rev().filter(|m| m.role != Role::System);
        let mut text = turns.next().map(|m| m.content.clone()).unwrap_or_default();
        for m in turns {
            text.push_str("\n\n");
            text.push_str(&m.content);
        }
        text
    }

    /// Characters sent, every turn counted: what a request's cost estimate reads.
    pub fn chars(&self) -> usize {
        self.0.iter().map(|m| m.content.chars().count()).sum()
    }

    /// UTF-8 bytes sent, every turn counted: what a request's worst case reads.
    pub fn bytes(&self) -> usize {
        self.0.iter().map(|m| m.content.len()).sum()
    }

    /// The turns with system turns apart and consecutive turns of one role joined, as the
    /// formats that need strict alternation (Anthropic, Gemini) take them.
    pub fn alternating(&self) -> (Option<String>, Vec<(Role, String)>) {
        let system: Vec<&str> = (self.0.iter())
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let mut turns: Vec<(Role, String)> = Vec::new();
        for m in self.0.iter().filter(|m| m.role != Role::System) {
            match turns.last_mut() {
                Some((role, text)) if *role == m.role => {
                    text.push_str("\n\n");
                    text.push_str(&m.content);
                }
                _ => turns.push((m.role, m.content.clone())),
            }
        }
        ((!system.is_empty()).then(|| system.join("\n\n")), turns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, content: &str) -> Message {
        Message {
            role,
            content: content.into(),
        }
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
                (User, "1\n\n2".to_string()),
                (Assistant, "3".into()),
                (User, "4".into())
            ]
        );
        let one = Conversation::from_prompt("hi");
        assert_eq!(one.routing_text(), "hi");
        assert_eq!(one.alternating(), (None, vec![(User, "hi".to_string())]));
    }
}
