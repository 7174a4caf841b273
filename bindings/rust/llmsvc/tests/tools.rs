//! Tools and the rest of the 0.2 request surface against `llmsvc-emulator` (path in
//! `LLMSVC_EMULATOR`): tool rounds, streamed tool calls as typed pieces, `n`, logprobs,
//! JSON mode, service tiers, Anthropic thinking and prompt caching, refused documents.

mod common;

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::pin::Pin;

use common::{block_on, exclusive, released, shared, tokio_rt, wait_until, Emulator};
use futures_core::Stream;
use llmsvc::{
    CacheControl, CacheTtl, Client, Config, Content, ContentPart, Error, Message, Piece,
    PieceStream, Provider, Request, ResponseFormat, Role, ServiceTier, Status, Thinking, Tool,
    ToolCall, ToolChoice,
};
use serde_json::json;

const PROVIDERS: [Provider; 4] = [
    Provider::OpenaiChat,
    Provider::OpenaiResponses,
    Provider::Anthropic,
    Provider::Ollama,
];

/// A client of `provider` on the emulator, with the model the emulator expects.
fn client_for(emu: &Emulator, provider: Provider, key: &str) -> Client {
    let base = emu.base_url();
    let (base_url, model) = match provider {
        Provider::Anthropic => (base, "claude-haiku-4-5"),
        // Ollama's chat API is not under /v1.
        Provider::Ollama => (base.trim_end_matches("/v1").to_owned(), "llama3.2"),
        _ => (base, "gpt-4o-mini"),
    };
    Client::new(Config {
        provider: Some(provider),
        base_url: Some(base_url),
        model: Some(model.into()),
        ..emu.config(key)
    })
    .unwrap()
}

fn weather() -> Tool {
    Tool::new("get_weather")
        .description("The weather in a city")
        .parameters(json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": false
        }))
}

fn time() -> Tool {
    Tool::new("get_time").parameters(json!({
        "type": "object",
        "properties": {"zone": {"type": "string"}},
        "required": ["zone"]
    }))
}

#[derive(Debug, serde::Deserialize)]
struct WeatherArgs {
    city: String,
}

fn run_tool(call: &ToolCall) -> String {
    match call.name.as_str() {
        "get_weather" => format!(
            "18 C in {}",
            call.arguments_as::<WeatherArgs>().unwrap().city
        ),
        "get_time" => "noon".into(),
        other => panic!("no tool {other}"),
    }
}

async fn collect(stream: &mut PieceStream) -> Result<Vec<Piece>, Error> {
    let mut pieces = Vec::new();
    while let Some(p) = poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await {
        pieces.push(p?);
    }
    Ok(pieces)
}

/// The calls as the pieces describe them: (id, name, arguments) by index.
fn assemble(pieces: &[Piece]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for p in pieces {
        match p {
            Piece::ToolCall { index, id, name } => {
                assert_eq!(*index as usize, calls.len(), "calls begin in order");
                calls.push((id.clone(), name.clone(), String::new()));
            }
            Piece::ToolArguments { index, delta } => calls[*index as usize].2 += delta,
            _ => {}
        }
    }
    calls
}

#[test]
fn piece_streams_are_send() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<PieceStream>();
    assert_send::<Piece>();
}

#[test]
fn a_tool_round_trip_on_every_provider() {
    let _g = shared();
    let emu = emulator!();
    for provider in PROVIDERS {
        let client = client_for(&emu, provider, "k-round");
        let question = Message::user("Use get_weather and get_time for Paris.");
        let first = client
            .generate_blocking(
                Request::default()
                    .message(question.clone())
                    .tool(weather())
                    .tool(time()),
            )
            .unwrap();
        assert_eq!(
            first.finish_reason.as_deref(),
            Some("tool_calls"),
            "{provider:?}"
        );
        let names: Vec<_> = first.tool_calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["get_weather", "get_time"], "{provider:?}");
        let call = &first.tool_calls[0];
        assert!(!call.id.is_empty());
        assert!(call.arguments_json.as_ref().unwrap()["city"].is_string());
        assert_eq!(call.arguments_error, None);
        assert!(!call.unknown_tool);

        // Round 2: the calls go back with each tool's result.
        let mut second = Request::default()
            .message(question)
            .message(first.assistant_message())
            .tool(weather())
            .tool(time());
        for c in &first.tool_calls {
            second = second.message(Message::tool(&c.id, run_tool(c)));
        }
        let answer = block_on(client.generate(second)).unwrap();
        let city = call.arguments_as::<WeatherArgs>().unwrap().city;
        assert_eq!(
            answer.text,
            format!("Tool results: 18 C in {city}; noon"),
            "{provider:?}"
        );
        assert!(answer.tool_calls.is_empty());
    }
}

#[test]
fn streamed_tool_calls_assemble_to_the_completions_calls() {
    let _g = shared();
    let emu = emulator!();
    let rt = tokio_rt();
    for provider in PROVIDERS {
        let client = client_for(&emu, provider, "k-pieces");
        let req = Request::default()
            .prompt("Use get_weather and get_time for Oslo.")
            .tool(weather())
            .tool(time());
        let (pieces, response) = rt.block_on(async {
            let mut stream = client.stream_pieces(req);
            let pieces = collect(&mut stream).await.unwrap();
            (pieces, stream.response().await.unwrap())
        });
        let calls = assemble(&pieces);
        let expected: Vec<_> = response
            .tool_calls
            .iter()
            .map(|c| (c.id.clone(), c.name.clone(), c.arguments.clone()))
            .collect();
        assert_eq!(calls, expected, "{provider:?}: {pieces:?}");
        assert_eq!(calls.len(), 2, "{provider:?}");
        assert_eq!(response.finish_reason.as_deref(), Some("tool_calls"));
        let argument_pieces = pieces
            .iter()
            .filter(|p| matches!(p, Piece::ToolArguments { .. }))
            .count();
        if provider != Provider::Ollama {
            // Ollama sends each call whole.
            assert!(argument_pieces > 2, "{provider:?}: {pieces:?}");
        }
        let text: String = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, response.text, "{provider:?}");
    }
}

#[test]
fn piece_streams_carry_text_and_the_text_stream_stays_text() {
    let _g = shared();
    let emu = emulator!("--stream-delay-ms", "1");
    let client = client_for(&emu, Provider::OpenaiChat, "k-text");
    let whole = client
        .generate_blocking(Request::default().prompt("Tell me a story"))
        .unwrap();
    let mut stream = client.stream_pieces(Request::default().prompt("Tell me a story"));
    let pieces = block_on(collect(&mut stream)).unwrap();
    assert!(pieces.len() > 1);
    assert!(pieces.iter().all(|p| matches!(p, Piece::Text(_))));
    let text: String = pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            _ => "",
        })
        .collect();
    assert_eq!(text, whole.text);
    assert!(block_on(stream.response())
        .unwrap()
        .timing
        .first_token_ms
        .is_some());

    // The text stream of a request that calls a tool: text pieces only, the calls in the
    // completion.
    let req = Request::default()
        .prompt("Use get_weather for Lima.")
        .tool(weather())
        .tool_choice(ToolChoice::Required);
    let mut text_stream = client.stream(req);
    let mut text = String::new();
    while let Some(p) = block_on(poll_fn(|cx| Pin::new(&mut text_stream).poll_next(cx))) {
        text += &p.unwrap();
    }
    let r = block_on(text_stream.response()).unwrap();
    assert_eq!(text, r.text);
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].name, "get_weather");
}

#[test]
fn tool_choice_picks_the_tool() {
    let _g = shared();
    let emu = emulator!();
    let client = client_for(&emu, Provider::OpenaiChat, "k-choice");
    // No tool named in the text: "required" calls the first one, a named choice that one.
    let base = Request::default()
        .prompt("Anything you like.")
        .tool(weather())
        .tool(time());
    let none = client.generate_blocking(base.clone()).unwrap();
    assert!(none.tool_calls.is_empty(), "{:?}", none.tool_calls);
    let required = client
        .generate_blocking(base.clone().tool_choice(ToolChoice::Required))
        .unwrap();
    assert_eq!(required.tool_calls[0].name, "get_weather");
    let named = client
        .generate_blocking(base.tool_choice(ToolChoice::function("get_time")))
        .unwrap();
    assert_eq!(named.tool_calls.len(), 1);
    assert_eq!(named.tool_calls[0].name, "get_time");
}

#[test]
fn n_gives_choices_with_logprobs_and_the_service_tier() {
    let _g = shared();
    let emu = emulator!();
    let client = client_for(&emu, Provider::OpenaiChat, "k-n");
    let r = client
        .generate_blocking(Request {
            n: Some(3),
            logprobs: Some(true),
            top_logprobs: Some(2),
            service_tier: Some(ServiceTier::Flex),
            frequency_penalty: Some(0.1),
            presence_penalty: Some(-0.1),
            logit_bias: Some(BTreeMap::from([(50256, -100)])),
            ..Request::default().prompt("say hi")
        })
        .unwrap();
    assert_eq!(r.choices.len(), 3, "{r:?}");
    assert_eq!(
        r.choices.iter().map(|c| c.index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(r.choices[0].text, r.text);
    assert_ne!(r.choices[1].text, r.choices[0].text);
    let logprobs = r.logprobs.as_ref().and_then(|l| l.as_array()).unwrap();
    assert!(!logprobs.is_empty());
    assert_eq!(logprobs[0]["top_logprobs"].as_array().unwrap().len(), 2);
    assert_eq!(r.service_tier.as_deref(), Some("flex"));
    // The document holds the same, read only on demand.
    let doc = r.raw.value().unwrap();
    assert_eq!(doc["choices"].as_array().unwrap().len(), 3);
    assert_eq!(doc["logprobs"], *r.logprobs.as_ref().unwrap());

    let responses = client_for(&emu, Provider::OpenaiResponses, "k-n");
    let r = responses
        .generate_blocking(Request {
            logprobs: Some(true),
            top_logprobs: Some(1),
            ..Request::default().prompt("say hi")
        })
        .unwrap();
    assert!(r.logprobs.unwrap().is_array());
}

#[test]
fn json_mode_parses_the_answer() {
    let _g = shared();
    let emu = emulator!();
    for provider in [
        Provider::OpenaiChat,
        Provider::OpenaiResponses,
        Provider::Ollama,
    ] {
        let client = client_for(&emu, provider, "k-jsonmode");
        let r = client
            .generate_blocking(Request {
                response_format: Some(ResponseFormat::JsonObject),
                ..Request::default().prompt("Answer in JSON: a colour.")
            })
            .unwrap();
        let doc = r.json.expect("a parsed object");
        assert!(doc.is_object(), "{provider:?}: {doc}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&r.text).unwrap(),
            doc
        );
    }
}

#[test]
fn anthropic_thinking_goes_back_in_the_next_round() {
    let _g = shared();
    let emu = emulator!();
    let client = client_for(&emu, Provider::Anthropic, "k-think");
    let ask = |messages: Vec<Message>| Request {
        messages,
        thinking: Some(Thinking::Enabled {
            budget_tokens: 2048,
        }),
        max_output_tokens: Some(4000),
        ..Request::default().tool(weather())
    };
    let question = Message::user("Use get_weather for Paris.");
    let first = client
        .generate_blocking(ask(vec![question.clone()]))
        .unwrap();
    assert!(
        !first.thinking.as_deref().unwrap_or("").is_empty(),
        "{first:?}"
    );
    assert!(first.thinking_signature.is_some());
    assert_eq!(first.tool_calls.len(), 1);
    let assistant = first.assistant_message();
    assert!(
        matches!(&assistant.content, Content::Parts(p) if matches!(p[0], ContentPart::Thinking { .. }))
    );
    let tool = Message::tool(&first.tool_calls[0].id, "18 C");
    let second = client
        .generate_blocking(ask(vec![question, assistant, tool]))
        .unwrap();
    assert_eq!(second.finish_reason.as_deref(), Some("end_turn"));
    assert!(second.text.contains("18 C"), "{}", second.text);
}

#[test]
fn anthropic_prompt_caching_counts_hour_long_writes() {
    let _g = shared();
    let emu = emulator!();
    let client = client_for(&emu, Provider::Anthropic, "k-cache");
    let rules = "r".repeat(8000); // 2000 tokens: caches take 1024 and more
    let req = Request::default()
        .message(Message::with_content(
            Role::System,
            Content::Parts(vec![ContentPart::cached_text(
                rules,
                CacheControl::ephemeral().ttl(CacheTtl::OneHour),
            )]),
        ))
        .message(Message::user("hi"));
    let first = client
        .generate_blocking(req.clone())
        .unwrap()
        .usage
        .unwrap();
    assert!(first.cache_write_tokens > 0, "{first:?}");
    assert_eq!(first.cache_write_1h_tokens, first.cache_write_tokens);
    let second = client.generate_blocking(req).unwrap().usage.unwrap();
    assert_eq!(second.cached_tokens, first.cache_write_tokens);
}

#[test]
fn extra_body_and_headers_are_sent_and_credentials_refused() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(Config {
        headers: Some(BTreeMap::from([("x-team".into(), "search".into())])),
        ..emu.config("k-extra")
    })
    .unwrap();
    let r = client
        .generate_blocking(Request {
            extra_body: Some(json!({"store": true}).as_object().unwrap().clone()),
            extra_headers: Some(BTreeMap::from([("x-request-tag".into(), "t1".into())])),
            prompt_cache_key: Some("users-1".into()),
            ..Request::new("gpt-4o-mini").prompt("hi")
        })
        .unwrap();
    assert!(r.ok);
    let err = client
        .generate_blocking(Request {
            extra_headers: Some(BTreeMap::from([(
                "authorization".into(),
                "Bearer other".into(),
            )])),
            ..Request::new("gpt-4o-mini").prompt("hi")
        })
        .unwrap_err();
    assert_eq!(err.status(), Some(Status::Schema), "{err}");
    assert!(err.message().contains("extra_headers"), "{err}");
    let err = Client::new(Config {
        headers: Some(BTreeMap::from([("x-api-key".into(), "k2".into())])),
        ..Config::default()
    })
    .unwrap_err();
    assert_eq!(err.status(), Some(Status::Schema), "{err}");
    assert!(err.message().contains("headers"), "{err}");
}

#[test]
fn bad_tool_documents_are_refused_naming_the_field() {
    let _g = shared();
    let emu = emulator!();
    let client = client_for(&emu, Provider::OpenaiChat, "k-bad");
    let refused = |req: Request, field: &str| {
        // Refused at submit, whichever way it is sent: nothing reaches the provider.
        for outcome in [
            client.generate_blocking(req.clone()),
            block_on(client.generate(req.clone())),
            block_on(client.stream_pieces(req).response()),
        ] {
            let err = outcome.expect_err(field);
            let Error::Call(call) = &err else {
                panic!("expected a refused call, got {err:?}")
            };
            assert_eq!(call.status, Status::Schema, "{err}");
            assert!(call.message.contains(field), "{field} not in {err}");
        }
    };
    // A tool message that answers no call.
    refused(
        Request::default()
            .message(Message::user("hi"))
            .message(Message::tool("call_404", "18 C"))
            .tool(weather()),
        "messages[1].tool_call_id",
    );
    // A choice naming a tool the request does not offer.
    refused(
        Request::default()
            .prompt("hi")
            .tool(weather())
            .tool_choice(ToolChoice::function("get_time")),
        "tool_choice",
    );
    // A name no provider takes, and parameters that are not a schema.
    refused(
        Request::default()
            .prompt("hi")
            .tool(Tool::new("get weather")),
        "tools[0].function.name",
    );
    refused(
        Request::default()
            .prompt("hi")
            .tool(Tool::new("f").parameters(json!({"properties": {"city": "string"}}))),
        "tools[0].function.parameters",
    );
    // top_logprobs without logprobs.
    refused(
        Request {
            top_logprobs: Some(2),
            ..Request::default().prompt("hi")
        },
        "top_logprobs",
    );
    // A tool message without a call id, written by hand.
    refused(
        Request::default().message(Message::new(Role::Tool, "18 C")),
        "tool_call_id",
    );
    assert_eq!(emu.stats("k-bad")["received"], 0);
}

#[test]
fn dropping_a_piece_stream_midway_cancels_it() {
    let _g = exclusive();
    let emu = emulator!("--stream-delay-ms", "100");
    let client = client_for(&emu, Provider::OpenaiChat, "k-drop");
    let mut stream = client.stream_pieces(
        Request::default()
            .prompt("Use get_weather for Quito.")
            .tool(weather()),
    );
    let first = block_on(poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)));
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    drop(stream);
    wait_until(5, "the cancellation", || {
        let m = client.metrics().unwrap();
        m.failures_by_kind.get("cancelled").copied().unwrap_or(0) == 1
    });
    released();
}

#[test]
fn a_client_from_an_llm_yaml_key_pool_file() {
    let _g = shared();
    let emu = emulator!();
    let dir = std::env::temp_dir().join(format!("llmsvc-rust-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("llm.yaml");
    std::fs::write(
        &path,
        format!(
            "providers:\n  openai:\n    base_url: {}\n    api_keys: [k-file-1, k-file-2]\n    models: [gpt-4o-mini]\n    rate_limits: [{{requests_per_minute: 600, burst: 2}}]\n",
            emu.base_url()
        ),
    )
    .unwrap();
    let path = path.to_str().unwrap().to_owned();
    let (config, warnings) = llmsvc::load_config_file(&path).unwrap();
    assert!(config.contains("\"openai#2\""), "{config}");
    assert_eq!(
        warnings,
        vec!["config.providers.openai.rate_limits[0].burst: ignored".to_owned()]
    );
    let client = Client::from_file(&path).unwrap();
    for i in 0..4 {
        client
            .generate_blocking(Request::default().message(Message::user(format!("pool {i}"))))
            .unwrap();
    }
    for key in ["k-file-1", "k-file-2"] {
        assert_eq!(emu.stats(key)["ok"], 2, "{key}");
    }
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "model: m\nlimits: {rpm: x}\n").unwrap();
    let Err(err) = Client::from_file(bad.to_str().unwrap()) else {
        panic!("a bad file is refused");
    };
    assert!(
        err.to_string().contains("bad.yaml:2:15: config.limits.rpm"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
