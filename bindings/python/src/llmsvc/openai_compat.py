"""`client.chat.completions.create(...)` in the shape of the `openai` package.

The keyword arguments are mapped onto the core's request document (the names are
mostly the same) and the Result onto ChatCompletion objects with the attributes programs
read: .id, .model, .choices[i].message.content / .tool_calls, .finish_reason, .usage.
With stream=True, an iterator of ChatCompletionChunk. What differs is in the README.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .types import Piece, Result, ToolCall

if TYPE_CHECKING:
    from .aio import AsyncClient, AsyncStream
    from .client import Client, Stream

# create() keyword -> request member, where the names differ.
_RENAMED = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}
_PASSED = {
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p", "stop",
    "seed", "user", "n", "logprobs", "top_logprobs", "response_format", "frequency_penalty",
    "presence_penalty", "logit_bias", "service_tier", "metadata", "extra_body", "extra_headers",
    "reasoning_effort", "prompt_cache_key",
}  # fmt: skip


def _request(kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    stream = bool(kwargs.pop("stream", False))
    kwargs.pop("stream_options", None)  # usage always comes with the completion
    timeout = kwargs.pop("timeout", None)
    req: dict[str, Any] = {}
    for k, v in kwargs.items():
        if v is None:
            continue
        if k in _RENAMED:
            req[_RENAMED[k]] = v
        elif k in _PASSED:
            req[k] = v
        else:
            raise TypeError(f"create() got an unsupported keyword argument {k!r}")
    rf = req.get("response_format")
    if isinstance(rf, type):  # a pydantic model, as openai's parse() takes it
        req["json_schema"] = req.pop("response_format")
    if timeout is not None:
        req["timeout_ms"] = int(timeout * 1000)
    return req, stream


@dataclass(slots=True)
class Function:
    name: str
    arguments: str


@dataclass(slots=True)
class ChatCompletionMessageToolCall:
    id: str
    function: Function
    type: Literal["function"] = "function"

    @classmethod
    def of(cls, c: ToolCall) -> ChatCompletionMessageToolCall:
        return cls(c.id, Function(c.name, c.arguments))


@dataclass(slots=True)
class ChatCompletionMessage:
    content: str | None
    role: Literal["assistant"] = "assistant"
    tool_calls: list[ChatCompletionMessageToolCall] | None = None
    parsed: Any = None
    refusal: None = None

    def model_dump(self) -> dict[str, Any]:
        """The message as the next request's `messages` takes it back."""
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            d["tool_calls"] = [
                {"id": c.id, "type": c.type, "function": {"name": c.function.name, "arguments": c.function.arguments}}
                for c in self.tool_calls
            ]
        return d


@dataclass(slots=True)
class Choice:
    index: int
    message: ChatCompletionMessage
    finish_reason: str | None
    logprobs: Any = None


@dataclass(slots=True)
class CompletionUsage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(slots=True)
class ChatCompletion:
    id: str
    model: str
    created: int
    choices: list[Choice]
    usage: CompletionUsage | None
    service_tier: str | None = None
    object: Literal["chat.completion"] = "chat.completion"
    # The core's whole result: attempts, cost, timing, metadata.
    llmsvc: Result | None = field(default=None, repr=False)

    @classmethod
    def of(cls, r: Result) -> ChatCompletion:
        def message(text: str, calls: Sequence[ToolCall], parsed: Any = None) -> ChatCompletionMessage:
            return ChatCompletionMessage(
                content=text if text or not calls else None,
                tool_calls=[ChatCompletionMessageToolCall.of(c) for c in calls] or None,
                parsed=parsed,
            )

        if r.choices:
            choices = [Choice(c.index, message(c.text, c.tool_calls), c.finish_reason, c.logprobs) for c in r.choices]
            choices[0].message.parsed = r.parsed
        else:
            choices = [Choice(0, message(r.text, r.tool_calls, r.parsed), r.finish_reason, r.logprobs)]
        u = r.usage
        usage = (
            CompletionUsage(u.prompt_tokens or 0, u.completion_tokens or 0, u.total_tokens or 0) if u is not None else None
        )
        created = int((r.timing.submit_unix_ms or time.time() * 1000) // 1000)
        return cls(
            id=r.response_id or f"llmsvc-{r.id}",
            model=r.response_model or r.model or "",
            created=created,
            choices=choices,
            usage=usage,
            service_tier=r.service_tier,
            llmsvc=r,
        )


@dataclass(slots=True)
class ChoiceDeltaToolCallFunction:
    name: str | None = None
    arguments: str | None = None


@dataclass(slots=True)
class ChoiceDeltaToolCall:
    index: int
    id: str | None = None
    function: ChoiceDeltaToolCallFunction | None = None
    type: Literal["function"] | None = None


@dataclass(slots=True)
class ChoiceDelta:
    content: str | None = None
    role: Literal["assistant"] | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None


@dataclass(slots=True)
class ChunkChoice:
    index: int
    delta: ChoiceDelta
    finish_reason: str | None = None


@dataclass(slots=True)
class ChatCompletionChunk:
    id: str
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"

    @classmethod
    def of_piece(cls, rid: int, model: str, p: Piece) -> ChatCompletionChunk:
        if p.kind == "text":
            delta = ChoiceDelta(content=p.text, role="assistant")
        elif p.kind == "tool_call":
            delta = ChoiceDelta(
                tool_calls=[ChoiceDeltaToolCall(p.index, p.call_id, ChoiceDeltaToolCallFunction(p.name, ""), "function")]
            )
        else:
            delta = ChoiceDelta(tool_calls=[ChoiceDeltaToolCall(p.index, None, ChoiceDeltaToolCallFunction(None, p.text))])
        return cls(f"llmsvc-{rid}", model, [ChunkChoice(0, delta)])

    @classmethod
    def final(cls, r: Result) -> ChatCompletionChunk:
        c = ChatCompletion.of(r)
        return cls(c.id, c.model, [ChunkChoice(0, ChoiceDelta(), r.finish_reason)], c.usage)


class Completions:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, **kwargs: Any) -> Any:
        """ChatCompletion, or with stream=True an iterator of ChatCompletionChunk (the last
        one with finish_reason and usage)."""
        req, stream = _request(kwargs)
        if not stream:
            return ChatCompletion.of(self._client.generate(req))
        return self._chunks(self._client.stream(req), str(req.get("model", "")))

    @staticmethod
    def _chunks(s: Stream, model: str) -> Iterator[ChatCompletionChunk]:
        with s:
            for p in s:
                yield ChatCompletionChunk.of_piece(s.id, model, p)
            yield ChatCompletionChunk.final(s.result)


class AsyncCompletions:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, **kwargs: Any) -> Any:
        """As Completions.create, awaited; with stream=True an async iterator of chunks."""
        req, stream = _request(kwargs)
        if not stream:
            return ChatCompletion.of(await self._client.generate(req))
        return self._chunks(self._client.stream(req), str(req.get("model", "")))

    @staticmethod
    async def _chunks(s: AsyncStream, model: str) -> AsyncIterator[ChatCompletionChunk]:
        async with s:
            async for p in s:
                yield ChatCompletionChunk.of_piece(s.id, model, p)
            yield ChatCompletionChunk.final(await s.result())


class Chat:
    def __init__(self, client: Client) -> None:
        self.completions = Completions(client)


class AsyncChat:
    def __init__(self, client: AsyncClient) -> None:
        self.completions = AsyncCompletions(client)


