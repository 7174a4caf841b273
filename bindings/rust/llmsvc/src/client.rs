//! [`Client`], the [`Generate`] future, the [`ResponseStream`] and the [`PieceStream`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::Serialize;

use crate::error::{Error, ErrorDetails, ErrorKind, Failure};
use crate::events::{Event, EventTypes};
use crate::ffi::{self, RawClient, RawResult, Slot, Submit};
use crate::metrics::Metrics;
use crate::tools::Piece;
use crate::types::{Config, DeploymentUpdate, Limits, Request, Response};

struct Inner {
    raw: RawClient,
}

/// A client of one LLM API: its own engine thread, rate-limit gates, retries, metrics and
/// usage ledger.
///
/// `Client` is `Send + Sync` and cheap to clone (one `Arc`); every clone is the same
/// client. Dropping the last clone closes it: requests still pending complete with
/// [`Error::ShutDown`], and the engine thread stops.
///
/// ```no_run
/// use llmsvc::{Client, Config, Request};
/// # fn main() -> Result<(), llmsvc::Error> {
/// let client = Client::new(Config {
///     base_url: Some("http://127.0.0.1:8080/v1".into()),
///     api_key: Some("sk-test".into()),
///     ..Config::default()
/// })?;
/// let response = client.generate_blocking(Request::new("gpt-4o-mini").prompt("Hello"))?;
/// println!("{} ({:?} nano-USD)", response.text, response.cost_nano_usd);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<std::ffi::CString, Error> {
    let s = serde_json::to_string(value).map_err(|e| Error::Decode(e.to_string()))?;
    ffi::to_cstring(s)
}

/// Converts a completion into the crate's result.
fn outcome(raw: Option<RawResult>) -> Result<Response, Error> {
    let Some(raw) = raw else {
        return Err(Error::Decode(
            "the core completed a request without a result".into(),
        ));
    };
    let json = raw.json();
    drop(raw);
    let mut response: Response = serde_json::from_str(&json)
        .map_err(|e| Error::Decode(format!("unreadable result document: {e}")))?;
    if response.ok {
        return Ok(response);
    }
    let error = response.error.take().unwrap_or_else(|| ErrorDetails {
        kind: ErrorKind::Internal,
        message: "a failed result without an error member".into(),
        http_status: None,
        provider_message: None,
        provider_type: None,
        provider_code: None,
        provider_param: None,
        retry_after_ms: None,
        pointer: None,
        keyword: None,
        output: None,
    });
    Err(Error::from_failure(Failure { error, response }))
}

impl Client {
    /// Creates a client and starts its engine thread.
    ///
    /// Fails with [`Error::Call`] when the configuration is refused (an unknown member,
    /// a wrong type, an unusable value); the message names the member.
    pub fn new(config: Config) -> Result<Client, Error> {
        let doc = to_json(&config)?;
        Self::from_raw(RawClient::new(&doc)?)
    }

    /// Creates a client from a configuration JSON document (docs/schema.md).
    ///
    /// ```
    /// let err = llmsvc::Client::from_json(r#"{"limitz": {}}"#).unwrap_err();
    /// assert_eq!(err.status(), Some(llmsvc::Status::Schema));
    /// ```
    pub fn from_json(config: &str) -> Result<Client, Error> {
        let doc = ffi::to_cstring(config.to_owned())?;
        Self::from_raw(RawClient::new(&doc)?)
    }

    /// Creates a client from a configuration file as the core reads it: YAML or JSON, in
    /// llmsvc's layout, the llm.yaml key-pool layout or LiteLLM's config.yaml, with `${NAME}`
    /// environment references (docs/schema.md, "Configuration files"). An error names the
    /// file, line and column; [`load_config_file`] also gives the file's warnings.
    pub fn from_file(path: &str) -> Result<Client, Error> {
        let (config, _warnings) = ffi::load_config(path)?;
        Self::from_json(&config)
    }

    fn from_raw(raw: RawClient) -> Result<Client, Error> {
        Ok(Client {
            inner: Arc::new(Inner { raw }),
        })
    }

    fn submit(&self, request: &Request, how: Submit) -> Result<Pending, Error> {
        let doc = to_json(request)?;
        let slot = Slot::new();
        let id = self.inner.raw.submit(&doc, &slot, how)?;
        Ok(Pending {
            slot,
            id,
            client: Arc::downgrade(&self.inner),
            done: false,
        })
    }

    /// Sends a request; the returned future resolves to its result.
    ///
    /// The request is submitted at once (it queues at the gates even before the future is
    /// polled). The future works with any executor: it is woken from the completion.
    /// Dropping it before it resolves cancels the request. It holds no strong reference
    /// to the client: when the last [`Client`] is dropped it resolves with
    /// [`Error::ShutDown`].
    ///
    /// ```no_run
    /// # async fn f(client: llmsvc::Client) -> Result<(), llmsvc::Error> {
    /// let r = client.generate(llmsvc::Request::new("gpt-4o-mini").prompt("Hi")).await?;
    /// println!("{}", r.text);
    /// # Ok(()) }
    /// ```
    pub fn generate(&self, request: Request) -> Generate {
        Generate {
            state: match self.submit(&request, Submit::Plain) {
                Ok(p) => GenState::Pending(p),
                Err(e) => GenState::Failed(Some(e)),
            },
        }
    }

    /// Sends a request and blocks the calling thread until its result.
    ///
    /// Do not call it from an async task: it blocks the executor's thread.
    pub fn generate_blocking(&self, request: Request) -> Result<Response, Error> {
        let doc = to_json(&request)?;
        outcome(Some(self.inner.raw.generate(&doc)?))
    }

    /// Sends a request whose reply is streamed: the stream yields text pieces as the
    /// provider produces them; [`ResponseStream::response`] gives the final result (whole
    /// text, usage, cost). Dropping the stream before the end cancels the request.
    ///
    /// ```no_run
    /// # async fn f(client: llmsvc::Client) -> Result<(), llmsvc::Error> {
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    /// let mut stream = client.stream(llmsvc::Request::new("gpt-4o-mini").prompt("Hi"));
    /// while let Some(piece) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
    ///     print!("{}", piece?);
    /// }
    /// let response = stream.response().await?;
    /// println!("\n{:?}", response.usage);
    /// # Ok(()) }
    /// ```
    pub fn stream(&self, request: Request) -> ResponseStream {
        ResponseStream {
            inner: Streamed::new(self.submit(&request, Submit::Text)),
        }
    }

    /// Sends a request whose reply is streamed as typed [`Piece`]s: text, and each tool
    /// call as it is produced (its start with id and name, then its arguments piece by
    /// piece). [`PieceStream::response`] gives the final result, with the assembled
    /// [`Response::tool_calls`]. Dropping the stream before the end cancels the request.
    ///
    /// ```no_run
    /// # async fn f(client: llmsvc::Client, tool: llmsvc::Tool) -> Result<(), llmsvc::Error> {
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    /// use llmsvc::{Piece, Request};
    /// let req = Request::new("gpt-4o-mini").prompt("Weather in Paris?").tool(tool);
    /// let mut stream = client.stream_pieces(req);
    /// while let Some(piece) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
    ///     match piece? {
    ///         Piece::Text(t) => print!("{t}"),
    ///         Piece::ToolCall { index, name, .. } => println!("\ncall {index}: {name}"),
    ///         Piece::ToolArguments { delta, .. } => print!("{delta}"),
    ///         _ => {}
    ///     }
    /// }
    /// let response = stream.response().await?;
    /// println!("\n{} call(s)", response.tool_calls.len());
    /// # Ok(()) }
    /// ```
    pub fn stream_pieces(&self, request: Request) -> PieceStream {
        PieceStream {
            inner: Streamed::new(self.submit(&request, Submit::Pieces)),
        }
    }

    /// Sends a request for structured output matching `schema` and converts the
    /// validated document to `T`.
    ///
    /// ```no_run
    /// # async fn f(client: llmsvc::Client) -> Result<(), llmsvc::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Pet { name: String, age: u32 }
    /// let schema = llmsvc::JsonSchema::new("pet", serde_json::json!({
    ///     "type": "object",
    ///     "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    ///     "required": ["name", "age"], "additionalProperties": false
    /// }));
    /// let pet: Pet = client
    ///     .generate_json(llmsvc::Request::new("gpt-4o-mini").prompt("A pet?"), schema)
    ///     .await?;
    /// println!("{} is {}", pet.name, pet.age);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub async fn generate_json<T: serde::de::DeserializeOwned>(
        &self,
        request: Request,
        schema: crate::JsonSchema,
    ) -> Result<T, Error> {
        let response = self.generate(request.json_schema(schema)).await?;
        response.json_as()
    }

    /// One consistent snapshot of the client's metrics, usage and cost.
    pub fn metrics(&self) -> Result<Metrics, Error> {
        let json = self.inner.raw.metrics()?;
        let raw: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| Error::Decode(e.to_string()))?;
        let mut m: Metrics =
            serde_json::from_value(raw.clone()).map_err(|e| Error::Decode(e.to_string()))?;
        m.raw = raw;
        Ok(m)
    }

    /// The metrics snapshot as the core's JSON document.
    pub fn metrics_json(&self) -> Result<String, Error> {
        self.inner.raw.metrics()
    }

    /// The same snapshot in the Prometheus text exposition format (version 0.0.4), to
    /// serve as `text/plain; version=0.0.4` from a handler of your own. The metric names
    /// are listed in docs/schema.md.
    pub fn metrics_prometheus(&self) -> Result<String, Error> {
        self.inner.raw.metrics_prometheus()
    }

    /// Changes the limits; members left `None` keep their value. Takes effect before
    /// any request submitted afterwards is admitted.
    ///
    /// ```no_run
    /// # fn f(client: llmsvc::Client) -> Result<(), llmsvc::Error> {
    /// client.set_limits(&llmsvc::Limits { rpm: Some(60), ..Default::default() })?;
    /// # Ok(()) }
    /// ```
    pub fn set_limits(&self, limits: &Limits) -> Result<(), Error> {
        let doc = to_json(limits)?;
        self.inner.raw.set_limits(&doc)
    }

    /// Changes one of the configured deployments ([`Config::deployments`],
    /// [`Config::api_keys`], [`Config::models`]) at run time: back into rotation or out
    /// of it, its weight, its limits; members left `None` keep their value. Takes effect
    /// before any request is admitted afterwards. A name no deployment has fails with
    /// [`Status::Schema`](crate::Status::Schema).
    ///
    /// ```no_run
    /// # fn f(client: llmsvc::Client) -> Result<(), llmsvc::Error> {
    /// // The account behind the second key has quota again:
    /// client.set_deployment(&llmsvc::DeploymentUpdate::new("gpt-4o-mini#1").enabled(true))?;
    /// # Ok(()) }
    /// ```
    pub fn set_deployment(&self, deployment: &DeploymentUpdate) -> Result<(), Error> {
        let doc = to_json(deployment)?;
        self.inner.raw.set_deployment(&doc)
    }

    /// Delivers the lifecycle events of every request of this client to `hook`: `types`
    /// is the set of events wanted ([`EventTypes::ALL`] for all of them); `with_content`
    /// adds the request's wire body to `queued` events (`"request"`) and the reply's text
    /// to `completed` events (`"text"`). Without it prompts and replies never appear in
    /// events, and keys never do. Replaces the previous hook; an empty `types` turns
    /// events off. Applies to what happens after it returns: from then on only the new
    /// hook is called.
    ///
    /// The hook runs on the client's engine thread, one event at a time, in the order the
    /// events happened; a request's events all come before its completion wakes its
    /// future. Every request of the client waits while it runs, so keep it short: record,
    /// count, or send the event to a channel. It may call the client's non-blocking
    /// methods ([`generate`](Client::generate) without waiting for it,
    /// [`metrics`](Client::metrics), [`set_limits`](Client::set_limits),
    /// `set_event_hook`, ...); blocking ones fail there
    /// ([`generate_blocking`](Client::generate_blocking) with
    /// [`Status::Recursive`](crate::Status::Recursive), [`close`](Client::close) does
    /// nothing) and it must not block on a future. A panic in the hook is caught (and
    /// reported by the panic hook); the event is dropped and the engine carries on.
    ///
    /// A hook that holds a clone of the client keeps it alive (a reference cycle): clear
    /// the hook (or [`close`](Client::close) the client) when done with it.
    ///
    /// ```no_run
    /// # fn f(client: llmsvc::Client) -> Result<(), llmsvc::Error> {
    /// use llmsvc::EventTypes;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// client.set_event_hook(EventTypes::RETRY_SCHEDULED | EventTypes::COMPLETED, false, move |e| {
    ///     let _ = tx.send(e.clone());
    /// })?;
    /// // ... on another thread:
    /// for e in rx {
    ///     println!("request {}: {} {}", e.request_id, e.kind, e.json);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_event_hook<F>(
        &self,
        types: EventTypes,
        with_content: bool,
        hook: F,
    ) -> Result<(), Error>
    where
        F: Fn(&Event) + Send + 'static,
    {
        let flags = if with_content {
            llmsvc_sys::LLMSVC_EVENTS_WITH_CONTENT
        } else {
            0
        };
        self.inner
            .raw
            .set_event_hook(types.bits(), flags, Some(Box::new(hook)))
    }

    /// Turns lifecycle events off: no hook is called after this returns.
    pub fn clear_event_hook(&self) -> Result<(), Error> {
        self.inner.raw.set_event_hook(0, 0, None)
    }

    /// Closes the client for every clone: new requests fail with
    /// [`Status::Closed`](crate::Status::Closed), pending ones complete with
    /// [`Error::ShutDown`]. Blocks until the engine thread stopped. Idempotent; metrics
    /// stay readable. Called from an event hook it does nothing.
    pub fn close(&self) {
        self.inner.raw.close();
    }
}

/// A submitted request: the slot its completion arrives in, and what cancels it.
struct Pending {
    slot: Arc<Slot>,
    id: u64,
    client: Weak<Inner>,
    done: bool,
}

impl Pending {
    fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Result<Response, Error>> {
        match self.slot.poll_done(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(raw) => {
                self.done = true;
                Poll::Ready(outcome(raw))
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            if let Some(inner) = self.client.upgrade() {
                // The completion (kind `cancelled`, or the result if it won the race)
                // still arrives and frees the payload box.
                inner.raw.cancel(self.id);
            }
        }
    }
}

enum GenState {
    Pending(Pending),
    Failed(Option<Error>),
}

/// The future of [`Client::generate`]. Dropping it before it resolves cancels the request.
#[must_use = "the request is cancelled when this future is dropped"]
pub struct Generate {
    state: GenState,
}

impl Generate {
    /// The core's id of the request; `None` when the submission was refused.
    pub fn request_id(&self) -> Option<u64> {
        match &self.state {
            GenState::Pending(p) => Some(p.id),
            GenState::Failed(_) => None,
        }
    }
}

impl fmt::Debug for Generate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generate")
            .field("request_id", &self.request_id())
            .finish()
    }
}

impl Future for Generate {
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            GenState::Pending(p) => p.poll_result(cx),
            GenState::Failed(e) => Poll::Ready(Err(e
                .take()
                .unwrap_or_else(|| Error::Decode("polled after completion".into())))),
        }
    }
}

/// A streamed request: its pieces, then its outcome. Shared by [`ResponseStream`] and
/// [`PieceStream`].
struct Streamed {
    pending: Option<Pending>,
    outcome: Option<Result<Response, Error>>,
    ended: bool,
}

impl Streamed {
    fn new(submitted: Result<Pending, Error>) -> Streamed {
        match submitted {
            Ok(p) => Streamed {
                pending: Some(p),
                outcome: None,
                ended: false,
            },
            Err(e) => Streamed {
                pending: None,
                outcome: Some(Err(e)),
                ended: false,
            },
        }
    }

    fn request_id(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.id)
    }

    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Result<Response, Error>> {
        if let Some(o) = self.outcome.take() {
            return Poll::Ready(o);
        }
        match &mut self.pending {
            Some(p) => p.poll_result(cx),
            None => Poll::Ready(Err(Error::Decode("the result was already taken".into()))),
        }
    }

    /// The next piece; a failed request yields its error last.
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Piece, Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(o) = &self.outcome {
            // A refused submission, or the failure already reported: end.
            self.ended = true;
            return Poll::Ready(o.as_ref().err().map(|e| Err(e.clone())));
        }
        let Some(p) = &mut self.pending else {
            self.ended = true;
            return Poll::Ready(None);
        };
        match p.slot.poll_piece(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(piece)) => Poll::Ready(Some(Ok(piece))),
            Poll::Ready(None) => match p.poll_result(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(r)) => {
                    self.outcome = Some(Ok(r));
                    self.ended = true;
                    Poll::Ready(None)
                }
                Poll::Ready(Err(e)) => {
                    self.outcome = Some(Err(e.clone()));
                    self.ended = true;
                    Poll::Ready(Some(Err(e)))
                }
            },
        }
    }
}

/// The text pieces of a streamed request ([`Client::stream`]), then its final result
/// through [`ResponseStream::response`].
///
/// The stream yields `Ok(piece)` for each piece, then ends; a request that failed yields
/// one `Err` last. Dropping it before the end cancels the request.
#[must_use = "the request is cancelled when this stream is dropped"]
pub struct ResponseStream {
    inner: Streamed,
}

impl fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseStream")
            .field("request_id", &self.request_id())
            .field("ended", &self.inner.ended)
            .finish()
    }
}

impl ResponseStream {
    /// The core's id of the request; `None` when the submission was refused.
    pub fn request_id(&self) -> Option<u64> {
        self.inner.request_id()
    }

    /// The final result: the whole text, usage, cost and `timing.first_token_ms`. Pieces
    /// not read yet are skipped. Dropping this future before it resolves cancels the
    /// request.
    pub async fn response(mut self) -> Result<Response, Error> {
        std::future::poll_fn(|cx| self.inner.poll_outcome(cx)).await
    }
}

impl Stream for ResponseStream {
    type Item = Result<String, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.inner.poll_piece(cx) {
                Poll::Ready(Some(Ok(Piece::Text(t)))) => return Poll::Ready(Some(Ok(t))),
                // `llmsvc_client_submit_stream` delivers text only.
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The typed pieces of a streamed request ([`Client::stream_pieces`]), then its final
/// result through [`PieceStream::response`].
///
/// The stream yields `Ok(piece)` for each [`Piece`], in the order the provider produced
/// them, then ends; a request that failed yields one `Err` last. Dropping it before the
/// end cancels the request.
#[must_use = "the request is cancelled when this stream is dropped"]
pub struct PieceStream {
    inner: Streamed,
}

impl fmt::Debug for PieceStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PieceStream")
            .field("request_id", &self.request_id())
            .field("ended", &self.inner.ended)
            .finish()
    }
}

impl PieceStream {
    /// The core's id of the request; `None` when the submission was refused.
    pub fn request_id(&self) -> Option<u64> {
        self.inner.request_id()
    }

    /// The final result: the whole text, the assembled tool calls, usage, cost and
    /// `timing.first_token_ms`. Pieces not read yet are skipped. Dropping this future
    /// before it resolves cancels the request.
    pub async fn response(mut self) -> Result<Response, Error> {
        std::future::poll_fn(|cx| self.inner.poll_outcome(cx)).await
    }
}

impl Stream for PieceStream {
    type Item = Result<Piece, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_piece(cx)
    }
}

/// Reads a configuration file as the core does (see [`Client::from_file`]): llmsvc's
/// configuration document (JSON; it holds the keys the file resolved) and what the file has
/// that llmsvc does not use.
pub fn load_config_file(path: &str) -> Result<(String, Vec<String>), Error> {
    let (config, warnings) = ffi::load_config(path)?;
    let warnings: Vec<String> =
        serde_json::from_str(&warnings).map_err(|e| Error::Decode(e.to_string()))?;
    Ok((config, warnings))
}
