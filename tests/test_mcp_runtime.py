"""The MCP runtime: a call the client cancels stops at its next frame and gives its pipeline back."""

from __future__ import annotations

import time

import anyio
from conftest import VIDEO, needs_shared
from mcp import types
from mcp.shared.exceptions import McpError
from mcp.shared.memory import create_connected_server_and_client_session

from fea_agent.agent_tools import ImagePolicy
from fea_agent.mcp import Runtime, build_server


@needs_shared
def test_a_video_call_the_client_cancels_stops_and_frees_its_pipeline(pipeline):
    runtime = Runtime(policy=ImagePolicy.allowing(VIDEO.parent), pipelines=[pipeline])
    runtime.load()

    async def go() -> tuple[list, float]:
        outcome: list = []
        progressed = anyio.Event()

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progressed.set()

        async with create_connected_server_and_client_session(build_server(runtime)._mcp_server) as client:
            request_id = client._request_id  # the id the next request gets

            async def call() -> None:
                try:
                    outcome.append(
                        await client.call_tool(
                            "analyze_video", {"video": str(VIDEO)}, progress_callback=on_progress
                        )
                    )
                except McpError as exc:
                    outcome.append(exc)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(call)
                with anyio.fail_after(60):
                    await progressed.wait()
                cancel = types.CancelledNotification(
                    params=types.CancelledNotificationParams(requestId=request_id)
                )
                await client.send_notification(types.ClientNotification(cancel))
                started = time.monotonic()
                with anyio.fail_after(30):
                    while runtime._pool.qsize() < 1:  # the pipeline is back in the pool
                        await anyio.sleep(0.05)
                freed = time.monotonic() - started
                with anyio.fail_after(10):
                    while not outcome:
                        await anyio.sleep(0.05)
        return outcome, freed

    outcome, freed = anyio.run(go)
    assert freed < 3, freed  # the clip's 472 frames take far longer
    assert isinstance(outcome[0], McpError) and "cancelled" in str(outcome[0]).lower()
    assert runtime._pool.qsize() == 1


def test_a_call_with_no_client_to_lose_runs_to_the_end(pipeline, astronaut):
    """Over transports without a request to watch (stdio, memory) and with no cancellation, a call is a call."""
    import base64

    from fea_agent.agent_tools import TOOL_SPECS

    runtime = Runtime(policy=ImagePolicy(), pipelines=[pipeline])
    spec = TOOL_SPECS["detect_faces"]
    args = spec.parse({"image": base64.b64encode(astronaut.read_bytes()).decode()})
    result = anyio.run(lambda: runtime.call(spec, args, disconnected=None))
    assert len(result.output.faces) == 1
