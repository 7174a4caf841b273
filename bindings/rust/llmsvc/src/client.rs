//! [`Client`], the [`Generate`] future, the [`ResponseStream`] and [`PieceStream`], and the
//! [`Closed`] future of a close.

use std::ffi::CString;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::events::{Event, EventKind, EventTypes};
use crate::ffi::{self, CloseHandle, RawClient, Setting, Slot, Submit};
use crate::metrics::Metrics;
use crate::types::{Asked, Config, DeploymentUpdate, Limits, Piece, Request, Response};

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
    raw: Arc<RawClient>,
    /// What reports this handle's requests (feature `otel`); `None`: nothing does.
    #[cfg(feature = "otel")]
    telemetry: Option<Arc<crate::otel::Inner>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Client");
        #[cfg(feature = "otel")]
        d.field("telemetry", &self.telemetry.is_some());
        d.finish_non_exhaustive()
    }
}

/// `value` as a JSON document for the core; `what` names it in errors.
fn document<T: Serialize>(value: &T, what: &str) -> Result<CString, Error> {
    let json = serde_json::to_string(value).map_err(|e| Error::Decode(format!("{what}: {e}")))?;
    Ok(ffi::cstring(json, what)?)
}

impl Client {
    /// Creates a client and starts its engine thread.
    ///
    /// Fails with [`Error::Call`] when the configuration is refused (an unknown member,
    /// a wrong type, an unusable value); the message names the member.
    pub fn new(config: Config) -> Result<Client, Error> {
        let raw = RawClient::new(&document(&config, "the configuration")?)?;
        Ok(Client::of(raw))
    }

    fn of(raw: RawClient) -> Client {
        Client {
            raw: Arc::new(raw),
            #[cfg(feature = "otel")]
            telemetry: None,
        }
    }

    /// Creates a client from a configuration JSON document (docs/schema.md).
    ///
    /// ```
    /// let err = llmsvc::Client::from_json(r#"{"limitz": {}}"#).unwrap_err();
    /// assert_eq!(err.status(), Some(llmsvc::Status::Schema));
    /// ```
    pub fn from_json(config: &str) -> Result<Client, Error> {
        let raw = RawClient::new(&ffi::cstring(config.to_owned(), "the configuration")?)?;
        Ok(Client::of(raw))
    }

    /// Creates a client from a configuration file as the core reads it: YAML or JSON, in
    /// llmsvc's layout, the llm.yaml key-pool layout or LiteLLM's config.yaml, with `${NAME}`
    /// environment references (docs/schema.md, "Configuration files"). An error names the
    /// file, line and column; [`load_config_file`] also gives the file's warnings.
    pub fn from_file(path: &str) -> Result<Client, Error> {
        Self::from_json(&ffi::load_config(path)?.0)
    }

    /// The same client (every clone shares its engine, gates and ledger) whose requests are
    /// reported through OpenTelemetry (feature `otel`): spans and metrics as
    /// docs/telemetry.md describes, through the providers `telemetry` was built with. Other
    /// clones of the client keep reporting nothing (or what they were given).
    ///
    /// The request span starts at submit, as a child of the span current then
    /// (`opentelemetry::Context::current()`), and ends at completion; a future or stream
    /// dropped before its result ends it with `error.type` `cancelled`.
    ///
    /// ```no_run
    /// # fn f(config: llmsvc::Config) -> Result<(), llmsvc::Error> {
    /// use llmsvc::{otel::Telemetry, Client};
    /// let client = Client::new(config)?.with_telemetry(Telemetry::global());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "otel")]
    pub fn with_telemetry(&self, telemetry: crate::otel::Telemetry) -> Client {
        Client {
            raw: Arc::clone(&self.raw),
            telemetry: Some(telemetry.0),
        }
    }

    /// Creates a client that reports through `telemetry` (feature `otel`), with the core's
    /// own OTLP exporter turned off for it unless the configuration names
    /// `telemetry.otlp`: the standard `OTEL_*` variables could otherwise turn that one on
    /// and every request would be reported twice. Prefer this to
    /// `Client::new(config)?.with_telemetry(t)` when those variables may be set.
    #[cfg(feature = "otel")]
    pub fn new_with_telemetry(
        config: Config,
        telemetry: crate::otel::Telemetry,
    ) -> Result<Client, Error> {
        let mut doc = serde_json::to_value(&config)
            .map_err(|e| Error::Decode(format!("the configuration: {e}")))?;
        if let Some(obj) = doc.as_object_mut() {
            let t = obj
                .entry("telemetry")
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let Some(t) = t.as_object_mut() {
                t.entry("otlp")
                    .or_insert_with(|| serde_json::json!({"enabled": false}));
            }
        }
        let raw = RawClient::new(&document(&doc, "the configuration")?)?;
        Ok(Client::of(raw).with_telemetry(telemetry))
    }

    /// The same client without telemetry (feature `otel`).
    #[cfg(feature = "otel")]
    pub fn without_telemetry(&self) -> Client {
        Client {
            raw: Arc::clone(&self.raw),
            telemetry: None,
        }
    }

    fn submit(&self, request: Request, how: Submit) -> Result<Pending, Error> {
        #[cfg(feature = "otel")]
        if let Some(t) = &self.telemetry {
            let mut request = request;
            let active = t.start(&mut request, how != Submit::Plain);
            return match self.submit_document(&request, how) {
                Ok(mut p) => {
                    p.otel = Some(Box::new(active));
                    Ok(p)
                }
                Err(e) => {
                    active.refused(&e);
                    Err(e)
                }
            };
        }
        self.submit_document(&request, how)
    }

    fn submit_document(&self, request: &Request, how: Submit) -> Result<Pending, Error> {
        let doc = document(request, "the request")?;
        let slot = Arc::new(Slot::default());
        let id = self.raw.submit(&doc, &slot, how)?;
        let (asked, client) = (request.asked(), Arc::downgrade(&self.raw));
        Ok(Pending {
            slot,
            id,
            asked,
            client,
            done: false,
            #[cfg(feature = "otel")]
            otel: None,
        })
    }

    /// Sends a request; the returned future resolves to its result.
    ///
    /// The request is submitted at once (it queues at the gates even before the future is
    /// polled). The future works with any executor: it is woken from the core's batch of
    /// completions. Dropping it before it resolves cancels the request without waiting.
    /// It holds no strong reference to the client: when the last [`Client`] is dropped it
    /// resolves with [`Error::ShutDown`].
    ///
    /// ```no_run
    /// # async fn f(client: llmsvc::Client) -> Result<(), llmsvc::Error> {
    /// let r = client.generate(llmsvc::Request::new("gpt-4o-mini").prompt("Hi")).await?;
    /// println!("{}", r.text);
    /// # Ok(()) }
    /// ```
    pub fn generate(&self, request: Request) -> Generate {
        Generate(self.submit(request, Submit::Plain).map_err(Some))
    }

    /// Sends a request and blocks the calling thread until its result.
    ///
    /// Do not call it from an async task: it blocks the executor's thread.
    pub fn generate_blocking(&self, request: Request) -> Result<Response, Error> {
        #[cfg(feature = "otel")]
        if let Some(t) = &self.telemetry {
            let mut request = request;
            let active = t.start(&mut request, false);
            let out = self.blocking(&request);
            active.finish(&out);
            return out;
        }
        self.blocking(&request)
    }

    fn blocking(&self, request: &Request) -> Result<Response, Error> {
        let raw = self.raw.generate(&document(request, "the request")?)?;
        Error::outcome(raw, request.asked())
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
        ResponseStream(Streamed::new(self.submit(request, Submit::Text)))
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
        PieceStream(Streamed::new(self.submit(request, Submit::Pieces)))
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
        self.generate(request.json_schema(schema)).await?.json_as()
    }

    /// One consistent snapshot of the client's metrics, usage and cost.
    pub fn metrics(&self) -> Result<Metrics, Error> {
        let decode = |e: serde_json::Error| Error::Decode(format!("metrics document: {e}"));
        let raw: serde_json::Value = serde_json::from_str(&self.metrics_json()?).map_err(decode)?;
        let mut m = Metrics::deserialize(&raw).map_err(decode)?;
        m.raw = raw;
        Ok(m)
    }

    /// The metrics snapshot as the core's JSON document.
    pub fn metrics_json(&self) -> Result<String, Error> {
        Ok(self.raw.metrics(false)?)
    }

    /// The same snapshot in the Prometheus text exposition format (version 0.0.4), to
    /// serve as `text/plain; version=0.0.4` from a handler of your own. The metric names
    /// are listed in docs/schema.md.
    pub fn metrics_prometheus(&self) -> Result<String, Error> {
        Ok(self.raw.metrics(true)?)
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
        Ok(self
            .raw
            .set(Setting::Limits, &document(limits, "the limits")?)?)
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
        Ok(self.raw.set(
            Setting::Deployment,
            &document(deployment, "the deployment")?,
        )?)
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
    /// `set_event_hook`, [`close`](Client::close), ...); blocking ones fail there
    /// ([`generate_blocking`](Client::generate_blocking) with
    /// [`Status::Recursive`](crate::Status::Recursive)) and it must not block on a future.
    /// A panic in the hook is caught (and reported by the panic hook); the event is
    /// dropped and the engine carries on.
    ///
    /// A hook that holds a clone of the client keeps it alive (a reference cycle): clear
    /// the hook when done with it.
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
        let f = move |bit, request_id, json: &str| {
            if let Some(kind) = EventKind::from_bit(bit) {
                hook(&Event {
                    kind,
                    request_id,
                    json: json.to_owned(),
                });
            }
        };
        Ok(self
            .raw
            .set_event_hook(types.bits(), flags, Some(Box::new(f)))?)
    }

    /// Turns lifecycle events off: no hook is called after this returns.
    pub fn clear_event_hook(&self) -> Result<(), Error> {
        Ok(self.raw.set_event_hook(0, 0, None)?)
    }

    /// Pauses admission (`true`): nothing more is sent, requests in flight go on, queued
    /// and new ones wait (their deadlines still apply); `false` resumes. A graceful stop
    /// for a batch job.
    pub fn pause(&self, paused: bool) {
        self.raw.pause(paused);
    }

    /// Closes the client for every clone, without waiting: new requests fail with
    /// [`Status::Closed`](crate::Status::Closed) from now on, pending ones complete with
    /// [`Error::ShutDown`]. The returned [`Closed`] resolves once the last completion was
    /// delivered (`.await` it, or [`Closed::wait`] outside async code); dropping it does
    /// not undo the close. Idempotent; metrics stay readable; callable from an event hook.
    pub fn close(&self) -> Closed {
        Closed(self.raw.close())
    }
}

/// The close of a client ([`Client::close`]): resolves once its last completion was
/// delivered.
pub struct Closed(CloseHandle);

impl Closed {
    /// Blocks the calling thread until the close completed. Called from an event hook it
    /// returns at once (the close completes after the hook returns).
    pub fn wait(self) {
        self.0.wait();
    }
}

impl Future for Closed {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll(cx)
    }
}

impl fmt::Debug for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed").finish_non_exhaustive()
    }
}

/// A submitted request: the slot its completion arrives in, and what cancels it.
struct Pending {
    slot: Arc<Slot>,
    id: u64,
    asked: Asked,
    client: Weak<RawClient>,
    done: bool,
    /// The request's span, when its client reports (feature `otel`).
    #[cfg(feature = "otel")]
    otel: Option<Box<crate::otel::Active>>,
}

impl Pending {
    fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Result<Response, Error>> {
        let raw = ready!(self.slot.poll_done(cx));
        self.done = true;
        let out = match raw {
            Some(raw) => Error::outcome(raw, self.asked),
            None => Err(Error::Decode("the result was already taken".into())),
        };
        #[cfg(feature = "otel")]
        if let Some(active) = self.otel.take() {
            active.finish(&out);
        }
        Poll::Ready(out)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(active) = self.otel.take().filter(|_| !self.done) {
            active.cancelled();
        }
        if !self.done {
            if let Some(client) = self.client.upgrade() {
                // Returns at once; the completion (kind `cancelled`, or the result if it
                // won the race) still arrives and releases the slot's payload.
                client.cancel(self.id);
            }
        }
    }
}

/// The future of [`Client::generate`]. Dropping it before it resolves cancels the request.
#[must_use = "the request is cancelled when this future is dropped"]
pub struct Generate(Result<Pending, Option<Error>>);

impl Generate {
    /// The core's id of the request; `None` when the submission was refused.
    pub fn request_id(&self) -> Option<u64> {
        self.0.as_ref().ok().map(|p| p.id)
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
        match &mut self.get_mut().0 {
            Ok(p) => p.poll_result(cx),
            Err(e) => Poll::Ready(Err(e
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
        let (pending, outcome) = match submitted {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(Err(e))),
        };
        Streamed {
            pending,
            outcome,
            ended: false,
        }
    }

    fn request_id(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.id)
    }

    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Result<Response, Error>> {
        match (self.outcome.take(), &mut self.pending) {
            (Some(o), _) => Poll::Ready(o),
            (None, Some(p)) => p.poll_result(cx),
            (None, None) => Poll::Ready(Err(Error::Decode("the result was already taken".into()))),
        }
    }

    /// The next piece; a failed request yields its error last.
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Piece, Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let Some(p) = self.pending.as_mut().filter(|_| self.outcome.is_none()) else {
            // A refused submission: its error, then the end.
            self.ended = true;
            let error = self
                .outcome
                .as_ref()
                .and_then(|o| o.as_ref().err().cloned());
            return Poll::Ready(error.map(Err));
        };
        loop {
            match ready!(p.slot.poll_piece(cx)) {
                // A kind newer than this binding is skipped: the completion has it all.
                Some(raw) => match Piece::from_raw(&raw) {
                    Some(piece) => return Poll::Ready(Some(Ok(piece))),
                    None => continue,
                },
                None => {
                    let outcome = ready!(p.poll_result(cx));
                    let error = outcome.as_ref().err().cloned();
                    (self.outcome, self.ended) = (Some(outcome), true);
                    return Poll::Ready(error.map(Err));
                }
            }
        }
    }
}

/// The text pieces of a streamed request ([`Client::stream`]), then its final result
/// through [`ResponseStream::response`].
///
/// The stream yields `Ok(piece)` for each piece, then ends; a request that failed yields
/// one `Err` last. Dropping it before the end cancels the request.
#[must_use = "the request is cancelled when this stream is dropped"]
pub struct ResponseStream(Streamed);

/// The typed pieces of a streamed request ([`Client::stream_pieces`]), then its final
/// result through [`PieceStream::response`].
///
/// The stream yields `Ok(piece)` for each [`Piece`], in the order the provider produced
/// them, then ends; a request that failed yields one `Err` last. Dropping it before the
/// end cancels the request.
#[must_use = "the request is cancelled when this stream is dropped"]
pub struct PieceStream(Streamed);

/// The methods both streams have.
macro_rules! stream_methods {
    ($name:ident) => {
        impl $name {
            /// The core's id of the request; `None` when the submission was refused.
            pub fn request_id(&self) -> Option<u64> {
                self.0.request_id()
            }

            /// The final result: the whole text, the assembled tool calls, usage, cost and
            /// `timing.first_token_ms`. Pieces not read yet are skipped. Dropping this
            /// future before it resolves cancels the request.
            pub async fn response(mut self) -> Result<Response, Error> {
                std::future::poll_fn(|cx| self.0.poll_outcome(cx)).await
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("request_id", &self.request_id())
                    .field("ended", &self.0.ended)
                    .finish()
            }
        }
    };
}

stream_methods!(ResponseStream);
stream_methods!(PieceStream);

impl Stream for ResponseStream {
    type Item = Result<String, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            // `llmsvc_client_submit_stream` delivers text only.
            match ready!(this.0.poll_piece(cx)) {
                Some(Ok(Piece::Text(t))) => return Poll::Ready(Some(Ok(t))),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl Stream for PieceStream {
    type Item = Result<Piece, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_piece(cx)
    }
}

/// Reads a configuration file as the core does (see [`Client::from_file`]): llmsvc's
/// configuration document (JSON; it holds the keys the file resolved) and what the file has
/// that llmsvc does not use.
pub fn load_config_file(path: &str) -> Result<(String, Vec<String>), Error> {
    let (config, warnings) = ffi::load_config(path)?;
    let warnings = serde_json::from_str(&warnings)
        .map_err(|e| Error::Decode(format!("warnings of {path}: {e}")))?;
    Ok((config, warnings))
}
