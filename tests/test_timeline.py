"""The timeline in words (fea_agent/video/timeline.py) and the analyze_video tool that returns it, on the shared
clip: text for the model, the summary as structured content, the chart as an image, one expression or AU."""

from __future__ import annotations

import base64
import re

import anyio
import pytest
from conftest import PHOTO_DIRS, VIDEO, needs_shared
from langchain_core.messages import ToolMessage
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import ImageContent, TextContent

from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext
from fea_agent.errors import InvalidInputError
from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.mcp import Runtime, build_server
from fea_agent.video.timeline import parse_focus, timeline_text

pytestmark = needs_shared

#: A line of an episode: label first, then its times in seconds ("Sadness 0.0-2.5 s").
EPISODE_LINE = re.compile(r"^- (?P<label>[A-Z][a-z]+( [a-z]+)?|AU\d\d [A-Z][a-z ]+?) (\d+\.\d)-(\d+\.\d) s")


def test_focus_takes_words_and_codes_and_names_what_it_accepts():
    assert parse_focus("smile") == parse_focus("Happy") == "happiness"
    assert parse_focus("au6") == parse_focus("6") == "AU06"
    for bad in ("grumpy", "AU99", "other"):
        with pytest.raises(ValueError, match=r"happiness.*AU12"):
            parse_focus(bad)


def test_the_clips_timeline_is_short_label_first_and_names_the_aus(clip_summary):
    text = timeline_text(clip_summary)
    print(f"{len(text.encode())} bytes:\n{text}")
    assert len(text.encode()) < 1500
    lines = text.splitlines()
    assert lines[0].startswith("WolfgangLanger_Pexels.mp4: 19.6 s, 472 frames analysed, 1 face")
    episodes = [line for line in lines if line.startswith("- ")]
    assert episodes and all(EPISODE_LINE.match(line) for line in episodes), episodes
    assert episodes[0].startswith("- Sadness 0.0-")
    covered = next(line for line in episodes if line.startswith("- Face covered"))
    assert "lower face" in covered
    smile = next(line for line in episodes if line.startswith("- Happiness 9."))
    assert "AU12 Lip corner puller" in smile and "AU06 Cheek raiser" in smile
    for code in re.findall(r"AU\d\d", text):
        assert f"{code} {AU_CATALOGUE[code].name}" in text


def test_focus_keeps_one_expressions_moments_and_the_unreadable_spans(clip_summary):
    text = timeline_text(clip_summary, "smile")
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines and all(line.startswith(("- Happiness", "- Face covered")) for line in lines), lines
    au = timeline_text(clip_summary, "AU06").splitlines()
    assert [line for line in au if line.startswith("- AU06 Cheek raiser")]
    assert not [line for line in au if line.startswith(("- Sadness", "- Happiness", "- AU12"))]


def test_an_unknown_focus_is_a_clear_input_error(pipeline):
    ctx = ToolContext(pipeline, ImagePolicy.allowing(*PHOTO_DIRS))
    with pytest.raises(InvalidInputError, match=r"focus.*unknown expression or action unit 'grumpy'"):
        TOOL_SPECS["analyze_video"].run(ctx, {"video": str(VIDEO), "focus": "grumpy"})


@pytest.mark.slow
def test_mcp_analyze_video_gives_the_timeline_the_summary_and_on_request_a_chart(pipeline):
    runtime = Runtime(policy=ImagePolicy.allowing(*PHOTO_DIRS), pipelines=[pipeline])

    async def calls():
        server = build_server(runtime)._mcp_server
        async with create_connected_server_and_client_session(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            plain = await client.call_tool("analyze_video", {"video": str(VIDEO)})
            focused = await client.call_tool(
                "analyze_video", {"video": str(VIDEO), "focus": "smile", "chart": True}
            )
            bad = await client.call_tool("analyze_video", {"video": str(VIDEO), "focus": "grumpy"})
        return tools["analyze_video"], plain, focused, bad

    tool, plain, focused, bad = anyio.run(calls)
    episode = tool.outputSchema["$defs"]["Episode"]["properties"]
    assert {"kind", "label", "onset_s", "apex_s", "apex_value", "offset_s"} <= set(episode)
    assert "focus" in tool.inputSchema["properties"] and "chart" in tool.inputSchema["properties"]
    assert not plain.isError
    assert [type(c) for c in plain.content] == [TextContent]  # no chart unless asked
    text = plain.content[0].text
    assert "- Face covered 2.5-9." in text and "- Happiness 9." in text and len(text.encode()) < 1500
    face = plain.structuredContent["summary"]["faces"][0]
    assert {"expression", "action_unit", "occluded"} <= {e["kind"] for e in face["episodes"]}
    assert not focused.isError
    assert [type(c) for c in focused.content] == [TextContent, ImageContent]
    assert base64.b64decode(focused.content[1].data)[:8] == b"\x89PNG\r\n\x1a\n"
    kept = focused.structuredContent["summary"]["faces"][0]["episodes"]
    assert focused.structuredContent["focus"] == "happiness"
    assert kept and {e["label"] for e in kept if e["kind"] == "expression"} == {"happiness"}
    assert not [e for e in kept if e["kind"] == "action_unit"]
    assert bad.isError and "unknown expression or action unit 'grumpy'" in bad.content[0].text


def test_langchain_analyze_video_sends_the_chart_it_was_asked_for(pipeline):
    from fea_agent.integrations.langchain import TOOL_CLASSES

    tool = TOOL_CLASSES["analyze_video"](pipeline=pipeline, allowed_dirs=[VIDEO.parent])
    args = {"video": str(VIDEO), "stride": 8, "max_frames": 20, "chart": True}
    message: ToolMessage = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert [block["type"] for block in message.content] == ["text", "image"]
    assert message.content[0]["text"].startswith("WolfgangLanger_Pexels.mp4:")
    assert message.artifact.summary.faces[0].episodes
