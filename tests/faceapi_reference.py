"""Records face-api.js's own answers, for ``test_faceapi.py`` to compare this package's port with.

It crops fixed rectangles of the repository's sample photos, has face-api.js 0.22.2 (in Node, its pure-JS TF.js
CPU backend) run ``faceExpressionNet.predictExpressions`` on each crop as a tensor, and writes the probabilities
to ``tests/data/faceapi_reference.json``. Run once where Node and npm are::

    npm install --prefix /tmp/faceapi face-api.js@0.22.2
    NODE_PATH=/tmp/faceapi/node_modules python tests/faceapi_reference.py path/to/face-api.js/weights
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "faceapi_reference.json"
#: (sample photo, crop x, y, width, height): a face in a square box, a tall box and a wide one (zero padding).
CROPS = (
    ("skimage_astronaut.png", 169, 63, 112, 112),
    ("webmorph_lisa_lisa1.jpg", 122, 160, 345, 504),
    ("skimage_astronaut.png", 150, 80, 150, 95),
)

_SCRIPT = """
const faceapi = require('face-api.js');
const fs = require('fs');
(async () => {
  const [weights, raw, h, w] = process.argv.slice(2);
  await faceapi.nets.faceExpressionNet.loadFromDisk(weights);
  const img = faceapi.tf.tensor3d(Array.from(fs.readFileSync(raw)), [+h, +w, 3], 'int32');
  process.stdout.write(JSON.stringify(await faceapi.nets.faceExpressionNet.predictExpressions(img)));
})();
"""


def crop(name: str, x: int, y: int, w: int, h: int) -> np.ndarray:
    rgb = np.asarray(Image.open(ROOT / "samples" / name).convert("RGB"))
    return np.ascontiguousarray(rgb[y : y + h, x : x + w])


def main(weights: str) -> None:
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "reference.js"
        script.write_text(_SCRIPT)
        for name, x, y, w, h in CROPS:
            pixels = crop(name, x, y, w, h)
            raw = Path(tmp) / "crop.raw"
            pixels.tofile(raw)
            done = subprocess.run(
                ["node", str(script), weights, str(raw), str(pixels.shape[0]), str(pixels.shape[1])],
                capture_output=True,
                text=True,
                check=True,
            )
            records.append({"photo": name, "box": [x, y, w, h], "probabilities": json.loads(done.stdout)})
    REFERENCE.write_text(json.dumps({"face-api.js": "0.22.2", "crops": records}, indent=1) + "\n")
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main(sys.argv[1])
