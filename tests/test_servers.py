"""The client configurations in servers/ work when copied: the Claude Desktop file launched the way a desktop
host launches it (absolute command, minimal PATH, no shell), and the Claude Code file's shape."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from fea_agent import __version__

SERVERS = ROOT / "servers"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _entry(name: str) -> dict:
    (entry,) = json.loads((SERVERS / name).read_text())["mcpServers"].values()
    return entry


def test_desktop_config_has_an_absolute_placeholder_and_no_model_folder():
    entry = _entry("claude_desktop_config.json")
    assert entry["command"].startswith("/ABSOLUTE/PATH/TO/") and entry["command"].endswith("/bin/fea-agent")
    assert entry["args"][:2] == ["serve", "mcp"]
    assert "FEA_AGENT_MODEL_DIR" not in entry.get("env", {})  # it would switch the download off


def test_claude_code_config_reads_the_token_from_the_environment():
    config = json.loads((SERVERS / "claude_code_mcp.json").read_text())["mcpServers"]
    for entry in config.values():
        assert entry["type"] == "http" and entry["url"].endswith("/mcp")
        assert entry["headers"]["Authorization"] == "Bearer ${FEA_AGENT_TOKEN}"


@pytest.mark.anyio
@pytest.mark.slow
async def test_desktop_config_starts_with_a_minimal_path_and_no_shell(tmp_path: Path):
    entry = _entry("claude_desktop_config.json")
    # The placeholder, filled in as the user would: the fea-agent script next to this Python, or the module.
    script = Path(sys.executable).parent / "fea-agent"
    command, args = (
        (str(script), entry["args"])
        if script.is_file()
        else (sys.executable, ["-m", "fea_agent", *entry["args"]])
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }  # PYTHONPATH: this checkout
    if os.environ.get("FEA_AGENT_MODEL_DIR"):  # the offline case the README names (no internet here)
        env["FEA_AGENT_MODEL_DIR"] = os.environ["FEA_AGENT_MODEL_DIR"]
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(tmp_path))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        described = await session.call_tool("describe_action_unit", {"code": "AU12"})
    assert (init.serverInfo.name, init.serverInfo.version) == ("fea-agent", __version__)
    assert not described.isError and "Lip corner puller" in described.content[0].text
