//! The documents' JSON shapes (docs/schema.md): configuration, requests and tools as the
//! core reads them, and results read back from their documents.

use std::collections::BTreeMap;

use llmsvc::*;
use serde::Deserialize;
use serde_json::json;

#[test]
fn documents_leave_out_what_is_not_given() {
    assert_eq!(serde_json::to_value(Config::default()).unwrap(), json!({}));
    let c = Config {
        provider: Some(Provider::OpenaiResponses),
        limits: Some(Limits {
            rpm: Some(10),
            ..Limits::default()
        }),
        ..Config::default()
    };
    assert_eq!(
        serde_json::to_value(c).unwrap(),
        json!({"provider": "openai_responses", "limits": {"rpm": 10}})
    );
}

#[test]
fn deployments_follow_the_schema() {
    let c = Config {
        deployments: Some(vec![
            Deployment {
                name: Some("a".into()),
                model: Some("gpt-4o".into()),
                api_key: Some("sk-secret".into()),
                weight: Some(0),
                ..Deployment::default()
            },
            Deployment {
                group: Some("gpt-4o".into()),
                provider: Some(Provider::Anthropic),
                api_key_env: Some("KEY_B".into()),
                limits: Some(Limits {
                    rpm: Some(50),
                    ..Limits::default()
                }),
                ..Deployment::default()
            },
        ]),
        routing: Some(Routing {
            strategy: Some(RoutingStrategy::LowestLatency),
            fallbacks: Some(BTreeMap::from([("*".to_owned(), vec!["a".to_owned()])])),
        }),
        ..Config::default()
    };
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({
            "deployments": [
                {"name": "a", "model": "gpt-4o", "api_key": "sk-secret", "weight": 0},
                {"group": "gpt-4o", "provider": "anthropic", "api_key_env": "KEY_B",
                 "limits": {"rpm": 50}}
            ],
            "routing": {"strategy": "lowest_latency", "fallbacks": {"*": ["a"]}}
        })
    );
    assert!(!format!("{c:?}").contains("sk-secret"));
    let keys = Config {
        api_keys: Some(vec!["sk-one".into()]),
        ..Config::default()
    };
    assert!(!format!("{keys:?}").contains("sk-one"));
    let u = DeploymentUpdate::new("a")
        .enabled(false)
        .weight(3)
        .limits(Limits {
            tpm: Some(1000),
            ..Limits::default()
        });
    assert_eq!(
        serde_json::to_value(&u).unwrap(),
        json!({"name": "a", "enabled": false, "weight": 3, "limits": {"tpm": 1000}})
    );
}

#[test]
fn requests_follow_the_schema() {
    let r = Request::new("m")
        .message(Message::system("s"))
        .message(Message::with_content(
            Role::User,
            Content::Parts(vec![
                ContentPart::text("t"),
                ContentPart::ImageUrl {
                    image_url: ImageUrl {
                        url: "data:x".into(),
                        detail: Some("low".into()),
                    },
                },
            ]),
        ))
        .json_schema(JsonSchema::new("pet", json!({"type": "object"})));
    let r = Request {
        priority: Some(Priority::High),
        ..r
    };
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": [
                    {"type": "text", "text": "t"},
                    {"type": "image_url", "image_url": {"url": "data:x", "detail": "low"}}
                ]}
            ],
            "priority": "high",
            "json_schema": {"name": "pet", "schema": {"type": "object"}, "strict": true}
        })
    );
}

#[test]
fn tool_requests_follow_the_schema() {
    let weather = Tool::new("get_weather")
        .description("d")
        .parameters(json!({"type": "object"}))
        .strict(true);
    let call = ToolCall::new("call_1", "get_weather", r#"{"city":"Paris"}"#);
    let r = Request {
        parallel_tool_calls: Some(false),
        logit_bias: Some(BTreeMap::from([(50256, -100)])),
        n: Some(2),
        logprobs: Some(true),
        top_logprobs: Some(3),
        response_format: Some(ResponseFormat::JsonObject),
        service_tier: Some(ServiceTier::Flex),
        thinking: Some(Thinking::Enabled {
            budget_tokens: 2048,
        }),
        extra_headers: Some(BTreeMap::from([("x-tag".into(), "t".into())])),
        ..Request::new("m")
    }
    .tool(weather.clone())
    .tool(Tool::new("get_time").cache_control(CacheControl::ephemeral()))
    .tool_choice(ToolChoice::function("get_weather"))
    .message(Message::with_content(
        Role::System,
        Content::Parts(vec![ContentPart::cached_text(
            "rules",
            CacheControl::ephemeral().ttl(CacheTtl::OneHour),
        )]),
    ))
    .message(Message::user("Weather in Paris?"))
    .message(Message::assistant_tool_calls(vec![call.clone()]))
    .message(Message::tool("call_1", "18 C"));
    let doc = serde_json::to_value(&r).unwrap();
    assert_eq!(
        doc,
        json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "rules",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "content": "18 C", "tool_call_id": "call_1"}
            ],
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "description": "d",
                    "parameters": {"type": "object"}, "strict": true}},
                {"type": "function", "function": {"name": "get_time"},
                    "cache_control": {"type": "ephemeral"}}
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": false,
            "logit_bias": {"50256": -100},
            "n": 2, "logprobs": true, "top_logprobs": 3,
            "response_format": {"type": "json_object"},
            "service_tier": "flex",
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "extra_headers": {"x-tag": "t"}
        })
    );
    // The documents read back into the same values.
    assert_eq!(serde_json::from_value::<Request>(doc).unwrap(), r);
    for (choice, text) in [
        (ToolChoice::Auto, "\"auto\""),
        (ToolChoice::None, "\"none\""),
        (ToolChoice::Required, "\"required\""),
    ] {
        assert_eq!(serde_json::to_string(&choice).unwrap(), text);
        assert_eq!(serde_json::from_str::<ToolChoice>(text).unwrap(), choice);
    }
    let flat: ToolChoice =
        serde_json::from_value(json!({"type": "function", "name": "x"})).unwrap();
    assert_eq!(flat, ToolChoice::function("x"));
    assert!(serde_json::from_value::<ToolChoice>(json!("sometimes")).is_err());
    // A message with text beside its calls keeps it; arguments written as an object
    // read as their JSON text.
    let m = Message {
        tool_calls: vec![call],
        ..Message::assistant("Let me look.")
    };
    assert_eq!(serde_json::to_value(&m).unwrap()["content"], "Let me look.");
    let read: Message = serde_json::from_value(json!({"role": "assistant", "content": null,
        "tool_calls": [{"id": "c", "type": "function",
                        "function": {"name": "f", "arguments": {"a": 1}}}]}))
    .unwrap();
    assert_eq!(
        read,
        Message::assistant_tool_calls(vec![ToolCall::new("c", "f", r#"{"a":1}"#)])
    );
    let c = Config {
        headers: Some(BTreeMap::from([("x-secret-ish".into(), "v4lue".into())])),
        ..Config::default()
    };
    assert!(!format!("{c:?}").contains("v4lue"));
}

#[test]
fn tool_results_parse() {
    let doc = json!({
        "id": 4, "ok": true, "text": "", "finish_reason": "tool_calls",
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                  "cached_tokens": 0, "cache_write_tokens": 9, "cache_write_1h_tokens": 9,
                  "reasoning_tokens": 0},
        "tool_calls": [
            {"id": "a", "name": "get_weather", "arguments": "{\"city\":\"Rome\"}",
             "arguments_json": {"city": "Rome"}},
            {"id": "b", "name": "nope", "arguments": "[1", "arguments_error": "bad",
             "unknown_tool": true}
        ],
        "choices": [{"index": 0, "text": "", "finish_reason": "tool_calls"},
                    {"index": 1, "text": "x", "logprobs": [{"token": "x"}]}],
        "logprobs": [{"token": "x", "logprob": -0.1}],
        "service_tier": "flex", "thinking": "hmm", "thinking_signature": "sig",
        "attempts": [], "timing": {"submit_unix_ms": 1, "total_ms": 1.0, "overhead_us": 1.0}
    });
    let r: Response = serde_json::from_value(doc).unwrap();
    assert_eq!(r.usage.unwrap().cache_write_1h_tokens, 9);
    assert_eq!(
        r.tool_calls[0].arguments_json,
        Some(json!({"city": "Rome"}))
    );
    assert!(r.tool_calls[1].unknown_tool && r.tool_calls[1].arguments_error.is_some());
    assert_eq!(r.choices[1].logprobs, Some(json!([{"token": "x"}])));
    assert_eq!(r.service_tier.as_deref(), Some("flex"));
    assert!(!r.usage_unreadable);
    #[derive(Deserialize)]
    struct Args {
        city: String,
    }
    assert_eq!(r.tool_calls[0].arguments_as::<Args>().unwrap().city, "Rome");
    assert!(r.tool_calls[1].arguments_as::<Args>().is_err());
    // The next round's assistant message carries the thinking back with the calls.
    assert_eq!(
        serde_json::to_value(r.assistant_message()).unwrap(),
        json!({"role": "assistant",
               "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}],
               "tool_calls": [
                   {"id": "a", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
                   {"id": "b", "type": "function",
                    "function": {"name": "nope", "arguments": "[1"}}]})
    );
    let unreadable: Response =
        serde_json::from_value(json!({"ok": true, "usage": null, "usage_unreadable": true}))
            .unwrap();
    assert!(unreadable.usage_unreadable && unreadable.usage.is_none());
}

#[test]
fn failed_results_parse() {
    let doc = json!({
        "id": 3, "ok": false, "usage": null, "cost_nano_usd": null,
        "attempts": [{"start_unix_ms": 1, "start_ms": 0.1, "duration_ms": 2.0,
                      "http_status": 401, "kind": "auth"}],
        "timing": {"submit_unix_ms": 1, "total_ms": 2.5, "overhead_us": 3.0},
        "error": {"kind": "auth", "message": "HTTP 401: bad key", "http_status": 401,
                  "provider_message": "bad key", "some_future_member": 1},
        "some_future_member": true
    });
    let r: Response = serde_json::from_value(doc).unwrap();
    assert!(!r.ok && r.usage.is_none() && r.cost_nano_usd.is_none());
    assert_eq!(r.attempts[0].error_kind(), Some(ErrorKind::Auth));
    assert_eq!(r.error.as_ref().unwrap().kind, ErrorKind::Auth);
    let unknown: ErrorKind = serde_json::from_value(json!("something_new")).unwrap();
    assert_eq!(unknown, ErrorKind::Internal);
}
