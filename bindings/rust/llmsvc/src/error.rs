//! [`Error`]: what a call or a request can fail with, and the outcome of a completed
//! request (its response, or the error its kind number names).

use std::fmt;

use crate::ffi::{self, RawResult, Refused};
#[cfg(feature = "serde")]
use crate::types::ToolCall;
use crate::types::{Asked, Attempt, ErrorDetails, ErrorKind, Response, Usage};

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
    /// The statuses of the codes -1, -2, ...
    const BY_CODE: [Status; 11] = {
        use Status::*;
        [
            InvalidArgument,
            Json,
            Schema,
            NoMemory,
            Closed,
            NotFound,
            Recursive,
            Timeout,
            Handle,
            System,
            Internal,
        ]
    };

    /// The status of a C status code.
    pub fn from_code(code: i32) -> Status {
        let index = usize::try_from(-1 - i64::from(code)).ok();
        index
            .and_then(|i| Status::BY_CODE.get(i))
            .copied()
            .unwrap_or(Status::Other(code))
    }

    /// The C status code (`LLMSVC_E...`).
    pub fn code(self) -> i32 {
        match self {
            Status::Other(c) => c,
            s => -1 - Status::BY_CODE.iter().position(|&k| k == s).unwrap_or(0) as i32,
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

/// A request that completed with an error: the details and the whole result (attempts,
/// usage and cost of what was paid for).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What went wrong.
    pub error: ErrorDetails,
    /// The result; its `error` member is moved to [`Failure::error`].
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

/// Declares [`Error`] with one variant per [`ErrorKind`], and the two matches over them.
macro_rules! errors {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// Everything a call or a request of this crate can fail with.
        ///
        /// A request that completed with an error is one variant per [`ErrorKind`], carrying
        /// a [`Failure`] (HTTP status, provider message, attempts, usage). A call the core
        /// refused synchronously is [`Error::Call`].
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
            $($(#[$doc])* $kind(Box<Failure>),)*
            /// The core refused a call synchronously (bad configuration or request, closed
            /// client).
            Call(CallError),
            /// A document could not be converted: a structured output that does not fit the
            /// caller's type, or a result this binding could not read.
            Decode(String),
        }

        impl Error {
            fn from_failure(f: Failure) -> Error {
                match f.error.kind {
                    $(ErrorKind::$kind => Error::$kind(Box::new(f)),)*
                }
            }

            /// The failed request's details, for errors of a completed request.
            pub fn failure(&self) -> Option<&Failure> {
                match self {
                    $(Error::$kind(f))|* => Some(f),
                    Error::Call(_) | Error::Decode(_) => None,
                }
            }
        }
    };
}

errors! {
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
    /// Cancelled.
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
    /// The output does not match the request's JSON Schema after the schema retries.
    SchemaMismatch,
    /// Its priority's queue was full, or it would have waited too long; not sent.
    LoadShed,
    /// A bug in llmsvc, or a kind newer than this binding.
    Internal,
}

impl Error {
    /// The outcome of a completed request: its response, or the error its kind names.
    pub(crate) fn outcome(raw: RawResult, asked: Asked) -> Result<Response, Error> {
        let mut response = Response::from_raw(raw, asked)
            .map_err(|e| Error::Decode(format!("unreadable result document: {e}")))?;
        match response.error.take() {
            None => Ok(response),
            Some(error) => Err(Error::from_failure(Failure { error, response })),
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
            e => e.failure().map_or("", |f| f.error.message.as_str()),
        }
    }
}

impl From<Refused> for Error {
    fn from(r: Refused) -> Error {
        let (status, message) = (Status::from_code(r.status), r.message);
        Error::Call(CallError { status, message })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.failure()) {
            (Error::Call(c), _) => write!(f, "{}: {}", ffi::strerror(c.status.code()), c.message),
            (Error::Decode(m), _) => write!(f, "decode: {m}"),
            (_, Some(fl)) => write!(f, "{}: {}", fl.kind(), fl.error.message),
            (_, None) => f.write_str("error"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(feature = "serde")]
impl Response {
    /// The structured output converted to `T`.
    ///
    /// ```
    /// # #[derive(serde::Deserialize)] struct Pet { name: String }
    /// let r = llmsvc::Response { json: Some(serde_json::json!({"name": "Rex"})), ..Default::default() };
    /// let pet: Pet = r.json_as().unwrap();
    /// assert_eq!(pet.name, "Rex");
    /// ```
    pub fn json_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let doc = self.json.as_ref().ok_or_else(|| {
            Error::Decode("the result has no structured output (no json_schema?)".into())
        })?;
        T::deserialize(doc).map_err(|e| Error::Decode(e.to_string()))
    }
}

#[cfg(feature = "serde")]
impl ToolCall {
    /// The arguments converted to `T`: from `arguments_json` when the core parsed them,
    /// else from the text.
    pub fn arguments_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let parsed = match &self.arguments_json {
            Some(v) => T::deserialize(v),
            None => serde_json::from_str(&self.arguments),
        };
        parsed.map_err(|e| Error::Decode(format!("arguments of {}: {e}", self.name)))
    }
}
