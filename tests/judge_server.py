"""Test helper: a local server speaking OpenAI's chat-completions protocol.

``FakeJudgeServer`` listens on 127.0.0.1 (an ephemeral port) in a background thread and answers
``POST /v1/chat/completions`` with a ``ChatCompletion`` JSON (usage included). Tests script it:

- ``reply``: a function from the request JSON to the reply text (default: a fixed rating);
- ``usage``: a function from (request JSON, reply text) to (prompt, completion) tokens;
- ``script(*steps)``: what the next requests get, in order: ``None`` (a normal reply), an HTTP
  status (``429``, ``500``, ...), or a :class:`Fail` / :class:`Hang` for details;
- ``fail_always(status)``: every request after the script gets this status;
- ``bodies``, ``headers``: what it received, one entry per request; ``usages``: the token
  counts it reported, one entry per normal reply;
  ``n_requests`` counts them and ``max_in_flight`` is the peak of concurrent requests.

Use it as a context manager::

    with FakeJudgeServer(reply=lambda body: "[[7]]") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Body = dict[str, Any]


@dataclass
class Fail:
    """Answer one request with an HTTP error in OpenAI's error format."""

    status: int
    message: str = "scripted failure"
    code: str | None = None
    retry_after: float | None = None


@dataclass
class Hang:
    """Wait ``seconds`` before replying normally (to trigger a client timeout)."""

    seconds: float


Step = Fail | Hang | None


def rating_reply(body: Body) -> str:
    """The default reply: a FastChat-style rating."""
    return "The answer is fine. Rating: [[7]]"


def word_usage(body: Body, text: str) -> tuple[int, int]:
    """Default token counts: words in the prompt messages, words in the reply."""
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return prompt, len(text.split())


class FakeJudgeServer:
    """A scripted, thread-safe chat-completions server for tests."""

    def __init__(
        self,
        reply: Callable[[Body], str] = rating_reply,
        usage: Callable[[Body, str], tuple[int, int]] = word_usage,
        delay_s: float = 0.0,
    ):
        self.reply = reply
        self.usage = usage
        self.delay_s = delay_s
        self.bodies: list[Body] = []
        self.headers: list[dict[str, str]] = []
        self.usages: list[dict[str, int]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._steps: deque[Step] = deque()
        self._always: Step = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- control

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def n_requests(self) -> int:
        with self._lock:
            return len(self.bodies)

    def script(self, *steps: Step | int) -> None:
        """Queue what the next requests get (an int is shorthand for ``Fail(status)``)."""
        with self._lock:
            self._steps.extend(Fail(s) if isinstance(s, int) else s for s in steps)

    def fail_always(self, status: int, message: str = "scripted failure") -> None:
        """Answer every request after the script with ``status``."""
        with self._lock:
            self._always = Fail(status, message)

    def heal(self) -> None:
        """Forget the script and ``fail_always``: answer normally from now on."""
        with self._lock:
            self._steps.clear()
            self._always = None

    def start(self) -> FakeJudgeServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeJudgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- serving

    def _admit(self, body: Body, headers: dict[str, str]) -> Step:
        with self._lock:
            self.bodies.append(body)
            self.headers.append(headers)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return self._steps.popleft() if self._steps else self._always

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _completion(self, body: Body) -> Body:
        text = self.reply(body)
        prompt, completion = self.usage(body, text)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        with self._lock:
            self.usages.append(usage)
            n = len(self.usages)
        choice: Body = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": _logprobs(text) if body.get("logprobs") else None,
        }
        return {
            "id": f"chatcmpl-fake-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{body.get('model')}-served",
            "choices": [choice],
            "usage": usage,
        }


def _logprobs(text: str) -> Body:
    tokens = [
        {"token": w, "logprob": -0.5, "bytes": None, "top_logprobs": []} for w in text.split()
    ]
    return {"content": tokens}


def _handler_for(server: FakeJudgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}", "code": None}})
                return
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            step = server._admit(body, {k.lower(): v for k, v in self.headers.items()})
            try:
                self._answer(step, body)
            finally:
                server._leave()

        def _answer(self, step: Step, body: Body) -> None:
            if server.delay_s:
                time.sleep(server.delay_s)
            if isinstance(step, Hang):
                server._closing.wait(step.seconds)
            if isinstance(step, Fail):
                error = {"message": step.message, "type": "test_error", "code": step.code}
                extra = {"Retry-After": str(step.retry_after)} if step.retry_after else {}
                self._send(step.status, {"error": error}, extra)
                return
            self._send(200, server._completion(body))

        def _send(self, status: int, payload: Body, extra: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
