//! User-interaction alerts 1100–1104 (digest 7.6): the optional hook through which the
//! device shows a server's prompt and returns the user's answer. Without a hook, the
//! engine answers these alerts 406 (optional feature not supported).

use crate::codes::AlertCode;
use crate::dm::codec::{Items, Value};

/// Most bytes of a typed answer (1102) the engine carries back.
pub const UI_ANSWER_CAP: usize = 64;

/// Which user-interaction alert the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UiKind {
    /// 1100 DISPLAY: show the text.
    Display,
    /// 1101 CONFIRM OR REJECT: a yes/no question.
    Confirm,
    /// 1102 TEXT INPUT: ask for a text.
    TextInput,
    /// 1103 SINGLE CHOICE: pick one of the choices.
    SingleChoice,
    /// 1104 MULTIPLE CHOICE: pick any of the choices.
    MultipleChoice,
}

impl UiKind {
    /// The kind of a user-interaction alert code.
    pub const fn from_alert(code: AlertCode) -> Option<Self> {
        match code {
            AlertCode::Display => Some(UiKind::Display),
            AlertCode::Confirm => Some(UiKind::Confirm),
            AlertCode::TextInput => Some(UiKind::TextInput),
            AlertCode::SingleChoice => Some(UiKind::SingleChoice),
            AlertCode::MultipleChoice => Some(UiKind::MultipleChoice),
            _ => None,
        }
    }
}

/// A server's prompt, borrowed from the received message. Values may hold XML entities
/// or several WBXML strings: read them with [`Value::to_str`] or [`Value::pieces`].
#[derive(Debug, Clone)]
pub struct UiPrompt<'p> {
    /// What to do.
    pub kind: UiKind,
    /// The first Item's `Data`: the options, `&`-joined (`MINDT=`, `MAXDT=`, `DR=`,
    /// `MAXLEN=`, `IT=`, `ET=`).
    pub options: Value<'p>,
    /// The second Item's `Data`: the text to show.
    pub text: Value<'p>,
    pub(super) choices: Items<'p>,
}

impl<'p> UiPrompt<'p> {
    /// The choices (1103/1104): the `Data` of the third and later Items, numbered from 1.
    pub fn choices(&self) -> impl Iterator<Item = Value<'p>> + use<'p> {
        self.choices
            .clone()
            .filter_map(|item| item.ok().and_then(|i| i.data))
    }
}

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UiAnswer {
    /// Shown (1100), confirmed (1101), or answered (1102–1104, see `Text`, `Selected`):
    /// Status 200.
    Yes,
    /// Rejected (1101): Status 304; the rest of an enclosing Sequence is not executed.
    No,
    /// The user cancelled: Status 214; the rest of an enclosing Sequence is not executed.
    Cancelled,
    /// The user did not answer in time: Status 408.
    TimedOut,
    /// 1102: the typed text is the first `n` bytes of the answer buffer (UTF-8).
    Text(usize),
    /// 1103/1104: the selected choices, bit `i` set for choice `i + 1`.
    Selected(u32),
}

/// Shows server prompts to the user. Called inline, inside a session step: a device that
/// needs time to ask answers from what it knows now (or [`UiAnswer::TimedOut`]).
pub trait UiHook {
    /// Shows `prompt`; a typed answer goes into `answer` (at most [`UI_ANSWER_CAP`] bytes).
    fn prompt(&mut self, prompt: &UiPrompt<'_>, answer: &mut [u8]) -> UiAnswer;
}

impl<F: FnMut(&UiPrompt<'_>, &mut [u8]) -> UiAnswer> UiHook for F {
    fn prompt(&mut self, prompt: &UiPrompt<'_>, answer: &mut [u8]) -> UiAnswer {
        self(prompt, answer)
    }
}
