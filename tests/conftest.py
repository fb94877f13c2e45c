"""Shared fixtures: the sample photos in ``samples/`` (in the repository, so the core suite runs anywhere), the
real photos and video in ../shared/data (CI and this machine), and one pipeline per test session.

A test that needs ../shared carries ``@needs_shared``: without the folder it skips, and the run ends with one
loud line saying how many skipped and why; with ``FEA_AGENT_REQUIRE_SHARED=1`` (set by ``.ci/run``) it fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# tools/ (benchmarks, the fuzzer, _paths) is importable from every test, as from the tools themselves.
sys.path.insert(0, str(ROOT / "tools"))

# Re-exported to the tests: `from conftest import EDGE, FRL, VIDEO, ...`.
from _paths import DATA, EDGE, FRL, MODELS, SAMPLES, SHARED, VIDEO, use_shared_models  # noqa: E402, F401

#: In the repository: public-domain and CC0 photos (samples/SOURCE.md).
ASTRONAUT = SAMPLES / "skimage_astronaut.png"  # one frontal smiling face, 512x512
NEUTRAL_FACE = SAMPLES / "webmorph_lisa_lisa1.jpg"  # one neutral face
NO_FACE = SAMPLES / "skimage_rocket.jpg"  # a rocket, no face
TINY_FACE = SAMPLES / "derived_tiny_face_astronaut_640x480.png"  # a face about 20 px wide

#: Outside the repository: ../shared (override with FEA_AGENT_SHARED), located by tools/_paths.py.
HAVE_SHARED = DATA.is_dir()
REQUIRE_SHARED = os.environ.get("FEA_AGENT_REQUIRE_SHARED") == "1"
#: Folders the tool tests may read photos from: the samples, and the shared data where there is one.
PHOTO_DIRS = tuple(d for d in (SAMPLES, DATA) if d.is_dir())
SHARED_MISSING = f"the shared test data is not at {DATA} (set FEA_AGENT_SHARED)"

# The models come from ../shared/models here; elsewhere from $FEA_AGENT_MODEL_DIR or the download cache.
use_shared_models()

#: The environment for a server started as a subprocess: the same model folder as this process.
SERVER_ENV = dict(os.environ)

#: The seven agent tools issue 4 names, which every interface (MCP, LangChain, LlamaIndex) must offer.
SEVEN_TOOLS = frozenset(
    {
        "analyze_face",
        "detect_faces",
        "detect_action_units",
        "classify_expression",
        "explain_emotion",
        "describe_action_unit",
        "analyze_video",
    }
)

needs_shared = pytest.mark.needs_shared


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_shared: reads ../shared/data; skips without it, fails under CI")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if HAVE_SHARED or item.get_closest_marker("needs_shared") is None:
        return
    if REQUIRE_SHARED:
        pytest.fail(f"FEA_AGENT_REQUIRE_SHARED=1, and {SHARED_MISSING}", pytrace=False)
    pytest.skip(SHARED_MISSING)


def pytest_terminal_summary(terminalreporter) -> None:
    """Say once, at the end, how many tests the missing ../shared skipped: a green run that tested little
    must not look like a full one."""
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if SHARED_MISSING in str(getattr(r, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_sep(
            "!",
            f"{len(skipped)} tests skipped: {SHARED_MISSING}; the core suite ran on samples/",
            yellow=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def astronaut() -> Path:
    return ASTRONAUT


@pytest.fixture(scope="session")
def pipeline():
    """One default pipeline (facs reasoner) shared by the whole session: models load once."""
    from fea_agent import FEAPipeline

    with FEAPipeline() as p:
        yield p


@pytest.fixture(scope="session")
def clip_summary(pipeline):
    """The shared clip's VideoSummary (every frame, tracked, with its episodes): analysed once a session."""
    from fea_agent.video import summarize

    return summarize(pipeline.analyze_video(VIDEO))


@pytest.fixture
def file_server():
    """``serve(folder) -> base URL``: a quiet HTTP server on 127.0.0.1 for the files in ``folder`` (downloads
    are tested against it: nothing here reaches the internet). Shut down when the test ends."""
    import http.server
    import threading

    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(folder: Path) -> str:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):
                super().__init__(*a, directory=str(folder), **k)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
