"""Tables other tools read and write: OpenFace 2.x CSV columns, py-feat CSVs (0.x/1.x and 2.x, told from their
columns), and a py-feat-style ``.fex`` accessor on any DataFrame of results, in fea-agent's units and signs
(needs pandas: ``pip install 'fea-agent[video]'``)."""

from __future__ import annotations

from fea_agent.interchange.openface import openface_rows, read_openface, to_openface, write_openface
from fea_agent.interchange.pyfeat import read_pyfeat
from fea_agent.interchange.tables import detect as detect_table

try:  # the accessor needs pandas; the OpenFace rows and CSV writer do not
    from fea_agent.interchange.fex import FexAccessor
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    if exc.name != "pandas":
        raise
    FexAccessor = None  # type: ignore[assignment,misc]

__all__ = [
    "FexAccessor",
    "detect_table",
    "openface_rows",
    "read_openface",
    "read_pyfeat",
    "to_openface",
    "write_openface",
]
