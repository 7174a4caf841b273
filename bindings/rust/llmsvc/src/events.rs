//! Lifecycle events of requests: [`EventTypes`], [`EventKind`] and [`Event`], delivered by
//! [`Client::set_event_hook`](crate::Client::set_event_hook).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use llmsvc_sys as sys;

use crate::error::Error;

/// One lifecycle event of a request (docs/schema.md, "Events"), in the order a request
/// goes through them. A retried request goes through `Admitted`, `AttemptStarted` and
/// `AttemptFinished` once per attempt, with a `RetryScheduled` between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `"queued"`: accepted, waiting for admission.
    Queued,
    /// `"admitted"`: through the gates, to a deployment.
    Admitted,
    /// `"attempt_started"`: an attempt was sent.
    AttemptStarted,
    /// `"attempt_finished"`: an attempt was answered or failed.
    AttemptFinished,
    /// `"retry_scheduled"`: another attempt will follow.
    RetryScheduled,
    /// `"completed"`: the request's one completion is next.
    Completed,
}

impl EventKind {
    const ALL: [EventKind; 6] = [
        EventKind::Queued,
        EventKind::Admitted,
        EventKind::AttemptStarted,
        EventKind::AttemptFinished,
        EventKind::RetryScheduled,
        EventKind::Completed,
    ];

    /// The core's name of the event, as in the event's `"type"` member.
    ///
    /// ```
    /// assert_eq!(llmsvc::EventKind::RetryScheduled.name(), "retry_scheduled");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Queued => "queued",
            EventKind::Admitted => "admitted",
            EventKind::AttemptStarted => "attempt_started",
            EventKind::AttemptFinished => "attempt_finished",
            EventKind::RetryScheduled => "retry_scheduled",
            EventKind::Completed => "completed",
        }
    }

    /// The set holding only this event (the `LLMSVC_EVENT_*` bits follow the
    /// declaration order).
    pub const fn types(self) -> EventTypes {
        EventTypes(1 << self as u32)
    }

    /// The event of one `LLMSVC_EVENT_*` bit; `None` for anything else.
    pub(crate) fn from_bit(bit: u32) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.types().0 == bit)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of lifecycle events, for [`Client::set_event_hook`](crate::Client::set_event_hook).
///
/// ```
/// use llmsvc::{EventKind, EventTypes};
/// let t = EventTypes::QUEUED | EventTypes::COMPLETED;
/// assert!(t.contains(EventKind::Completed.types()));
/// assert!(!t.contains(EventTypes::ADMITTED));
/// assert_eq!(format!("{t:?}"), "EventTypes(queued | completed)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventTypes(u32);

impl EventTypes {
    /// `"queued"`.
    pub const QUEUED: EventTypes = EventTypes(sys::LLMSVC_EVENT_QUEUED);
    /// `"admitted"`.
    pub const ADMITTED: EventTypes = EventTypes(sys::LLMSVC_EVENT_ADMITTED);
    /// `"attempt_started"`.
    pub const ATTEMPT_STARTED: EventTypes = EventTypes(sys::LLMSVC_EVENT_ATTEMPT_STARTED);
    /// `"attempt_finished"`.
    pub const ATTEMPT_FINISHED: EventTypes = EventTypes(sys::LLMSVC_EVENT_ATTEMPT_FINISHED);
    /// `"retry_scheduled"`.
    pub const RETRY_SCHEDULED: EventTypes = EventTypes(sys::LLMSVC_EVENT_RETRY_SCHEDULED);
    /// `"completed"`.
    pub const COMPLETED: EventTypes = EventTypes(sys::LLMSVC_EVENT_COMPLETED);
    /// Every lifecycle event.
    pub const ALL: EventTypes = EventTypes(sys::LLMSVC_EVENT_ALL);

    /// No event: a hook set with it turns events off.
    pub const fn empty() -> EventTypes {
        EventTypes(0)
    }

    /// True for the empty set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every event of `other` is in `self`.
    pub const fn contains(self, other: EventTypes) -> bool {
        self.0 & other.0 == other.0
    }

    /// The `LLMSVC_EVENT_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The events of the set, in lifecycle order.
    pub fn iter(self) -> impl Iterator<Item = EventKind> {
        EventKind::ALL
            .into_iter()
            .filter(move |k| self.contains(k.types()))
    }
}

impl From<EventKind> for EventTypes {
    fn from(kind: EventKind) -> EventTypes {
        kind.types()
    }
}

impl BitOr for EventTypes {
    type Output = EventTypes;
    fn bitor(self, rhs: EventTypes) -> EventTypes {
        EventTypes(self.0 | rhs.0)
    }
}

impl BitOrAssign for EventTypes {
    fn bitor_assign(&mut self, rhs: EventTypes) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for EventTypes {
    type Output = EventTypes;
    fn bitand(self, rhs: EventTypes) -> EventTypes {
        EventTypes(self.0 & rhs.0)
    }
}

impl fmt::Debug for EventTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventTypes(")?;
        let mut first = true;
        for k in self.iter() {
            if !first {
                f.write_str(" | ")?;
            }
            first = false;
            f.write_str(k.name())?;
        }
        if first {
            f.write_str("empty")?;
        }
        f.write_str(")")
    }
}

/// One lifecycle event of a request, as a hook receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Which event.
    pub kind: EventKind,
    /// The request's id ([`Generate::request_id`](crate::Generate::request_id),
    /// [`Response::id`](crate::Response::id)).
    pub request_id: u64,
    /// The event document (docs/schema.md, "Events"): `type`, `request_id`, `trace_id`,
    /// `model`, `operation`, times, and what the event is about.
    pub json: String,
}

impl Event {
    /// The event document, parsed.
    ///
    /// ```
    /// let e = llmsvc::Event {
    ///     kind: llmsvc::EventKind::Queued,
    ///     request_id: 7,
    ///     json: r#"{"type":"queued","request_id":7,"waiting":0}"#.into(),
    /// };
    /// assert_eq!(e.value().unwrap()["waiting"], 0);
    /// ```
    pub fn value(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_str(&self.json).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The event document converted to `T` (a struct of the members you need).
    #[cfg(feature = "serde")]
    pub fn json_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.json).map_err(|e| Error::Decode(e.to_string()))
    }
}
