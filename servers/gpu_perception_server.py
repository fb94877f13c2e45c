"""The perception MCP server with the specialist detectors, for a GPU box: RetinaFace finds the faces, OpenFace
3.0's multitask model gives 8 AUs and gaze, EmotiEffLib's enet_b0_8_va_mtl the expression with valence and
arousal. The torch models run on CUDA when torch sees a GPU, EmotiEffLib on onnxruntime's CUDA provider when
onnxruntime-gpu is installed; every result's ``devices`` says where each stage ran, and the ``fea://backends``
resource lists the backends and devices of this server.

    pip install 'fea-agent[mcp,retinaface,openface3,emotiefflib]'       # GPU: see servers/README.md
    FEA_AGENT_TOKEN=... python servers/gpu_perception_server.py --transport http --host 0.0.0.0 --port 8765

Later options override these defaults (e.g. ``--appearance openface3`` to keep to one model); ``--workers 1``
keeps one copy of the models on the GPU. The OpenFace 3.0 weights (MTL_backbone.pth, RetinaFace) are under
OpenFace 3.0's non-commercial licence; ``fea-agent models list`` says what is missing and where to get it.
"""

import sys

from fea_agent.cli import main

SPECIALISTS = [
    "--tools",
    "perception",
    "--detector",
    "retinaface",
    "--action-units",
    "openface3",
    "--appearance",
    "emotiefflib",
    "--workers",
    "1",
]

if __name__ == "__main__":
    sys.exit(main(["serve", "mcp", *SPECIALISTS, *sys.argv[1:]]))
