//! [`Error`]: what a call or a request can fail with.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::{Attempt, Response, Usage};

/// The status of a call the core refused synchronously (`llmsvc_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// An argument is invalid.
    InvalidArgument,
    /// A JSON document could not be parsed.
    Json,
    /// A JSON document is well formed but a field is wrong (unknown member, wrong type,
    /// something the provider cannot send).
    Schema,
    /// Out of memory.
    NoMemory,
    /// The client is closed and accepts no new work.
    Closed,
    /// No pending request has that id.
    NotFound,
    /// A blocking call made from a completion callback.
    Recursive,
    /// Nothing completed in time.
    Timeout,
    /// The handle is not (or no longer) a live object.
    Handle,
    /// The operating system refused a resource.
    System,
    /// A bug in llmsvc.
    Internal,
    /// A status this binding does not know.
    Other(i32),
}

impl Status {
    /// The status of a C status code.
    pub fn from_code(code: i32) -> Status {
        match code {
            -1 => Status::InvalidArgument,
            -2 => Status::Json,
            -3 => Status::Schema,
            -4 => Status::NoMemory,
            -5 => Status::Closed,
            -6 => Status::NotFound,
            -7 => Status::Recursive,
            -8 => Status::Timeout,
            -9 => Status::Handle,
            -10 => Status::System,
            -11 => Status::Internal,
            c => Status::Other(c),
        }
    }

    /// The C status code (`LLMSVC_E...`).
    pub fn code(self) -> i32 {
        match self {
            Status::InvalidArgument => -1,
            Status::Json => -2,
            Status::Schema => -3,
            Status::NoMemory => -4,
            Status::Closed => -5,
            Status::NotFound => -6,
            Status::Recursive => -7,
            Status::Timeout => -8,
            Status::Handle => -9,
            Status::System => -10,
            Status::Internal => -11,
            Status::Other(c) => c,
        }
    }
}

/// A call the core refused before any request was sent: a malformed configuration or
/// request, a closed client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The status code.
    pub status: Status,
    /// The core's detailed message (it names the offending member).
    pub message: String,
}

/// What went wrong with a request (`llmsvc_error_kind`), named as in result documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// 429 retries spent, or the server asked for too long a wait.
    RateLimited,
    /// Billing quota; never retried.
    InsufficientQuota,
    /// The provider does not serve this region.
    UnsupportedRegion,
    /// 401: invalid or missing key.
    Auth,
    /// 403.
    Permission,
    /// 400 or 422 from the provider.
    BadRequest,
    /// 404, e.g. an unknown model.
    NotFound,
    /// 409 retries spent.
    Conflict,
    /// 5xx retries spent.
    ServerError,
    /// 408 or transfer timeout, retries spent.
    Timeout,
    /// Connection refused or reset, TLS, DNS.
    Connection,
    /// Cancelled (a dropped future or stream).
    Cancelled,
    /// The request's `timeout_ms` passed.
    DeadlineExceeded,
    /// The client closed before the request completed.
    ShutDown,
    /// Rejected before sending.
    InvalidRequest,
    /// The provider's reply made no sense.
    Protocol,
    /// A budget was exceeded.
    BudgetExceeded,
    /// The output does not match the request's JSON Schema.
    SchemaMismatch,
    /// Its priority's queue was full, or it would have waited too long; not sent.
    LoadShed,
    /// A bug in llmsvc.
    #[serde(other)]
    Internal,
}

impl ErrorKind {
    /// The stable name used in result and metric documents (`"rate_limited"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::InsufficientQuota => "insufficient_quota",
            ErrorKind::UnsupportedRegion => "unsupported_region",
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::ShutDown => "shut_down",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Protocol => "protocol",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::SchemaMismatch => "schema_mismatch",
            ErrorKind::LoadShed => "load_shed",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `error` object of a failed result document (docs/schema.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// The error kind.
    pub kind: ErrorKind,
    /// The message, the provider's own message included.
    #[serde(default)]
    pub message: String,
    /// The HTTP status of the last attempt, when a response was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The provider's error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message: Option<String>,
    /// The provider's error type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_type: Option<String>,
    /// The provider's error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<String>,
    /// The request parameter the provider blamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_param: Option<String>,
    /// The wait a server asked for when it was too long to honour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<f64>,
    /// Schema mismatch: the JSON pointer of the first violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Schema mismatch: the violated keyword.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Schema mismatch: the rejected output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

/// A request that completed with an error: the details and the whole result (attempts,
/// usage and cost of what was paid for).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What went wrong.
    pub error: ErrorDetails,
    /// The result document; its `error` member is moved to [`Failure::error`].
    pub response: Response,
}

impl Failure {
    /// The error kind.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind
    }
    /// The HTTP status of the last attempt, if a response was received.
    pub fn http_status(&self) -> Option<u16> {
        self.error.http_status.filter(|s| *s != 0)
    }
    /// The provider's own error message.
    pub fn provider_message(&self) -> Option<&str> {
        self.error.provider_message.as_deref()
    }
    /// Every attempt made.
    pub fn attempts(&self) -> &[Attempt] {
        &self.response.attempts
    }
    /// Tokens used by attempts that got a reply, if any.
    pub fn usage(&self) -> Option<&Usage> {
        self.response.usage.as_ref()
    }
}

/// Everything a call or a request of this crate can fail with.
///
/// A request that completed with an error is one variant per [`ErrorKind`], carrying a
/// [`Failure`] (HTTP status, provider message, attempts, usage). A call the core refused
/// synchronously is [`Error::Call`].
///
/// ```
/// use llmsvc::{Error, ErrorKind};
/// fn explain(e: &Error) -> String {
///     match e {
///         Error::Auth(f) => format!("check the key (HTTP {:?})", f.http_status()),
///         Error::RateLimited(f) => format!("slow down after {} attempts", f.attempts().len()),
///         e if e.kind() == Some(ErrorKind::Cancelled) => "cancelled".into(),
///         e => e.to_string(),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// 429 retries spent, or the server asked for too long a wait.
    RateLimited(Box<Failure>),
    /// Billing quota; never retried.
    InsufficientQuota(Box<Failure>),
    /// The provider does not serve this region.
    UnsupportedRegion(Box<Failure>),
    /// 401: invalid or missing key.
    Auth(Box<Failure>),
    /// 403.
    Permission(Box<Failure>),
    /// 400 or 422 from the provider.
    BadRequest(Box<Failure>),
    /// 404, e.g. an unknown model.
    NotFound(Box<Failure>),
    /// 409 retries spent.
    Conflict(Box<Failure>),
    /// 5xx retries spent.
    ServerError(Box<Failure>),
    /// 408 or transfer timeout, retries spent.
    Timeout(Box<Failure>),
    /// Connection refused or reset, TLS, DNS.
    Connection(Box<Failure>),
    /// Cancelled.
    Cancelled(Box<Failure>),
    /// The request's `timeout_ms` passed.
    DeadlineExceeded(Box<Failure>),
    /// The client closed before the request completed.
    ShutDown(Box<Failure>),
    /// Rejected before sending.
    InvalidRequest(Box<Failure>),
    /// The provider's reply made no sense.
    Protocol(Box<Failure>),
    /// A budget was exceeded.
    BudgetExceeded(Box<Failure>),
    /// The output does not match the request's JSON Schema after the schema retries.
    SchemaMismatch(Box<Failure>),
    /// Its priority's queue was full, or it would have waited too long; not sent.
    LoadShed(Box<Failure>),
    /// A bug in llmsvc.
    Internal(Box<Failure>),
    /// The core refused a call synchronously (bad configuration or request, closed client).
    Call(CallError),
    /// A document could not be converted: a structured output that does not fit the
    /// caller's type, or a result this binding could not read.
    Decode(String),
}

impl Error {
    pub(crate) fn from_failure(f: Failure) -> Error {
        let b = Box::new(f);
        match b.error.kind {
            ErrorKind::RateLimited => Error::RateLimited(b),
            ErrorKind::InsufficientQuota => Error::InsufficientQuota(b),
            ErrorKind::UnsupportedRegion => Error::UnsupportedRegion(b),
            ErrorKind::Auth => Error::Auth(b),
            ErrorKind::Permission => Error::Permission(b),
            ErrorKind::BadRequest => Error::BadRequest(b),
            ErrorKind::NotFound => Error::NotFound(b),
            ErrorKind::Conflict => Error::Conflict(b),
            ErrorKind::ServerError => Error::ServerError(b),
            ErrorKind::Timeout => Error::Timeout(b),
            ErrorKind::Connection => Error::Connection(b),
            ErrorKind::Cancelled => Error::Cancelled(b),
            ErrorKind::DeadlineExceeded => Error::DeadlineExceeded(b),
            ErrorKind::ShutDown => Error::ShutDown(b),
            ErrorKind::InvalidRequest => Error::InvalidRequest(b),
            ErrorKind::Protocol => Error::Protocol(b),
            ErrorKind::BudgetExceeded => Error::BudgetExceeded(b),
            ErrorKind::SchemaMismatch => Error::SchemaMismatch(b),
            ErrorKind::LoadShed => Error::LoadShed(b),
            ErrorKind::Internal => Error::Internal(b),
        }
    }

    /// The failed request's details, for errors of a completed request.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::RateLimited(f)
            | Error::InsufficientQuota(f)
            | Error::UnsupportedRegion(f)
            | Error::Auth(f)
            | Error::Permission(f)
            | Error::BadRequest(f)
            | Error::NotFound(f)
            | Error::Conflict(f)
            | Error::ServerError(f)
            | Error::Timeout(f)
            | Error::Connection(f)
            | Error::Cancelled(f)
            | Error::DeadlineExceeded(f)
            | Error::ShutDown(f)
            | Error::InvalidRequest(f)
            | Error::Protocol(f)
            | Error::BudgetExceeded(f)
            | Error::SchemaMismatch(f)
            | Error::LoadShed(f)
            | Error::Internal(f) => Some(f),
            Error::Call(_) | Error::Decode(_) => None,
        }
    }

    /// The error kind of a completed request; `None` for [`Error::Call`] and
    /// [`Error::Decode`].
    pub fn kind(&self) -> Option<ErrorKind> {
        self.failure().map(Failure::kind)
    }

    /// The status of a refused call; `None` otherwise.
    pub fn status(&self) -> Option<Status> {
        match self {
            Error::Call(c) => Some(c.status),
            _ => None,
        }
    }

    /// The HTTP status of the last attempt, if a response was received.
    pub fn http_status(&self) -> Option<u16> {
        self.failure().and_then(Failure::http_status)
    }

    /// The provider's own error message, if it sent one.
    pub fn provider_message(&self) -> Option<&str> {
        self.failure().and_then(Failure::provider_message)
    }

    /// The attempts of a completed request (empty for other errors).
    pub fn attempts(&self) -> &[Attempt] {
        self.failure().map(Failure::attempts).unwrap_or(&[])
    }

    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        match self {
            Error::Call(c) => &c.message,
            Error::Decode(m) => m,
            e => e.failure().map(|f| f.error.message.as_str()).unwrap_or(""),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Call(c) => write!(
                f,
                "{}: {}",
                crate::ffi::strerror(c.status.code()),
                c.message
            ),
            Error::Decode(m) => write!(f, "decode: {m}"),
            e => match e.failure() {
                Some(fl) => write!(f, "{}: {}", fl.kind(), fl.error.message),
                None => f.write_str("error"),
            },
        }
    }
}

impl std::error::Error for Error {}
