"""The openai reasoner against a real local HTTP server that speaks /v1/chat/completions."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fea_agent.errors import BackendUnavailableError, BadResponseError, ModelRefusalError
from fea_agent.io.images import load_image
from fea_agent.reasoning import get_reasoner
from fea_agent.reasoning.prompting import parse_answer

HAPPY = "Happiness. The cheeks are raised (AU 6) and the lip corners pulled up (au12): a felt smile."


def _completion(
    content: str | None, *, refusal: str | None = None, finish: str = "stop", logprobs=None
) -> dict:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content, "refusal": refusal},
        "finish_reason": finish,
    }
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}


class FakeOpenAI:
    """A chat-completions server; each request pops the next scripted (status, body, headers)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes, dict[str, str]]] = []
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(
                    {"path": self.path, "json": json.loads(body), "auth": self.headers["Authorization"]}
                )
                status, payload, headers = outer.script.pop(0) if outer.script else (200, b"{}", {})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, body: dict | bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.script.append((status, payload, headers or {}))


@pytest.fixture()
def server() -> Iterator[FakeOpenAI]:
    s = FakeOpenAI()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture(scope="module")
def astronaut_faces(pipeline, astronaut):
    loaded = load_image(astronaut)
    result = pipeline.analyze(loaded.rgb)
    return [f.model_copy(update={"reasoning": None}) for f in result.faces], loaded.rgb


def _reasoner(server: FakeOpenAI, **options):
    return get_reasoner("openai", base_url=server.url, model="fer-vlm", api_key="k", **options)


def test_answer_is_parsed_into_typed_reasoning(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply(_completion(HAPPY))
    out = _reasoner(server).reason(faces, rgb)
    r = out[0].reasoning
    assert r.reasoner == "openai" and r.label == "happiness"
    assert r.text.startswith("Happiness. The cheeks are raised")
    assert [e.au for e in r.evidence] == ["AU06", "AU12"]
    assert r.evidence[1].intensity > 1.0 and "happiness" in r.evidence[1].supports
    assert out[0].expression.label == "happiness" and out[0].expression.source == "fused"
    assert r.confidence == 0.5  # no token probabilities were returned


def test_request_carries_face_crop_and_measured_aus(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply(_completion(HAPPY))
    _reasoner(server).reason(faces, rgb)
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    body = request["json"]
    assert body["model"] == "fer-vlm"
    parts = body["messages"][-1]["content"]
    uri = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    assert uri.startswith("data:image/jpeg;base64,")
    crop = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert crop.size[0] == crop.size[1] and 192 <= crop.size[0] <= 320
    text = next(p["text"] for p in parts if p["type"] == "text")
    assert "AU12" in text and "AU6" in text and "neutral, happiness" in text


def test_logprobs_give_the_label_confidence(server, astronaut_faces):
    faces, rgb = astronaut_faces
    tokens = [
        {"token": "Happ", "logprob": -0.1, "top_logprobs": []},
        {"token": "iness.", "logprob": -0.2, "top_logprobs": []},
    ]
    server.reply(_completion(HAPPY, logprobs=tokens))
    out = _reasoner(server, logprobs=True).reason(faces, rgb)
    assert server.requests[0]["json"]["logprobs"] is True
    assert out[0].reasoning.confidence == pytest.approx(np.exp(-0.3), abs=1e-3)
    assert out[0].expression.probabilities["happiness"] == pytest.approx(np.exp(-0.3), abs=1e-3)


def test_transient_server_errors_are_retried(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply({"error": {"message": "overloaded"}}, status=503, headers={"retry-after-ms": "20"})
    server.reply(_completion(HAPPY))
    out = _reasoner(server, max_retries=2).reason(faces, rgb)
    assert len(server.requests) == 2 and out[0].reasoning.label == "happiness"


def test_refusal_is_a_clear_error(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply(_completion(None, refusal="I can't help with analysing people's faces."))
    with pytest.raises(ModelRefusalError, match="refused to describe the face: I can't help"):
        _reasoner(server).reason(faces, rgb)


def test_content_filter_is_a_refusal(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply(_completion("", finish="content_filter"))
    with pytest.raises(ModelRefusalError, match="content filter"):
        _reasoner(server).reason(faces, rgb)


def test_bad_json_is_a_clear_error(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply(b"<html>502 from a proxy</html>")
    with pytest.raises(BadResponseError, match="not valid JSON"):
        _reasoner(server, max_retries=0).reason(faces, rgb)


def test_json_that_is_not_a_completion_is_a_clear_error(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply({"result": "happy"})
    with pytest.raises(BadResponseError, match="without choices"):
        _reasoner(server).reason(faces, rgb)


def test_unknown_model_names_the_problem(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply({"error": {"message": "The model `fer-vlm` does not exist."}}, status=404)
    with pytest.raises(BackendUnavailableError, match=r"404.*does not exist"):
        _reasoner(server).reason(faces, rgb)


def test_unreachable_host_names_the_url(astronaut_faces):
    faces, rgb = astronaut_faces
    reasoner = get_reasoner("openai", base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, timeout_s=3)
    with pytest.raises(BackendUnavailableError, match=r"cannot reach http://127.0.0.1:9/v1.*server running"):
        reasoner.reason(faces, rgb)


def test_slow_server_times_out(astronaut_faces):
    # A listening socket that never answers: the client must give up after timeout_s.
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        reasoner = get_reasoner("openai", base_url=url, model="m", max_retries=0, timeout_s=0.5)
        faces, rgb = astronaut_faces
        with pytest.raises(BackendUnavailableError, match=r"no answer within 0.5 s"):
            reasoner.reason(faces, rgb)
    finally:
        sock.close()


def test_missing_configuration_says_what_to_set(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("FEA_AGENT_OPENAI_MODEL", raising=False)
    with pytest.raises(BackendUnavailableError, match=r"needs base_url and model.*OPENAI_BASE_URL"):
        get_reasoner("openai")


def test_unusable_faces_abstain_without_a_request(server, astronaut_faces):
    faces, rgb = astronaut_faces
    bad = faces[0].model_copy(
        update={"quality": faces[0].quality.model_copy(update={"usable": False, "issues": ["face is 20 px"]})}
    )
    out = _reasoner(server).reason([bad], rgb)
    assert out[0].reasoning.label == "abstain" and "face is 20 px" in out[0].reasoning.text
    assert server.requests == []


# -- parsing what models write (shared by feallm, vlm and openai) ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "aus"),
    [
        (HAPPY, "happiness", ["AU06", "AU12"]),
        ("**Label:** Sad. Inner brows up (AU1) and lip corners down (AU15).", "sadness", ["AU01", "AU15"]),
        ("Expression: surprised\nAU 1, AU2 and au_26 are active.", "surprise", ["AU01", "AU02", "AU26"]),
        ("The person looks angry: brows lowered (AU4), lids tight (AU07).", "anger", ["AU04", "AU07"]),
        ("I think this face is neutral.", "neutral", []),
        ("Other. Hard to say.", "other", []),
        ("A face with AU12.", None, ["AU12"]),
    ],
)
def test_parse_answer_reads_label_and_aus(text, label, aus):
    parsed = parse_answer(text)
    assert parsed.label == label and parsed.aus == aus


def test_unparsable_answer_keeps_the_measured_expression(server, astronaut_faces):
    faces, rgb = astronaut_faces
    server.reply(_completion("I see a person in a spacesuit."))
    out = _reasoner(server).reason(faces, rgb)[0]
    assert out.reasoning.label == "unknown" and "names no expression" in out.reasoning.text
    assert out.reasoning.confidence == 0.0 and out.expression == faces[0].expression
