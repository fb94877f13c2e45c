"""RetinaFace (MobileNet-0.25), the face detector OpenFace 3.0 uses, in plain torch.

The network has the same modules and parameter names as biubug6/Pytorch_Retinaface (``models/net.py``,
``models/retinaface.py``), so the upstream checkpoint ``mobilenet0.25_Final.pth`` loads unchanged and strictly.
Priors, box and landmark decoding and non-maximum suppression follow upstream's ``prior_box.py``,
``box_utils.py`` and ``py_cpu_nms.py`` with cfg_mnet, written here with torch and numpy (no torchvision).
Input is BGR minus (104, 117, 123) as upstream trained it. Images are downscaled to ``max_side`` first, like
YuNet, so a 4000 px photo costs what a 640 px one does; several same-sized images (video frames) run as one
batch, on CUDA when torch sees a GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fea_agent.backends.base import Detection
from fea_agent.backends.context import BuildContext
from fea_agent.perception.resize import downscale

#: cfg_mnet: anchor sizes per pyramid level, their strides, and the box-encoding variances.
MIN_SIZES: tuple[tuple[int, int], ...] = ((16, 32), (64, 128), (256, 512))
STEPS: tuple[int, ...] = (8, 16, 32)
VARIANCES: tuple[float, float] = (0.1, 0.2)
BGR_MEAN: tuple[float, float, float] = (104.0, 117.0, 123.0)


def conv_bn(inp: int, oup: int, stride: int = 1, leaky: float = 0.0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, oup, 3, stride, 1, bias=False),
        nn.BatchNorm2d(oup),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
    )


def conv_bn_no_relu(inp: int, oup: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inp, oup, 3, stride, 1, bias=False), nn.BatchNorm2d(oup))


def conv_bn1x1(inp: int, oup: int, stride: int, leaky: float = 0.0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, oup, 1, stride, padding=0, bias=False),
        nn.BatchNorm2d(oup),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
    )


def conv_dw(inp: int, oup: int, stride: int, leaky: float = 0.1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
        nn.BatchNorm2d(inp),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
        nn.Conv2d(inp, oup, 1, 1, 0, bias=False),
        nn.BatchNorm2d(oup),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
    )


class MobileNetV1Body(nn.Module):
    """MobileNet-0.25's three stages (upstream wraps them in IntermediateLayerGetter as ``body``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            conv_bn(3, 8, 2, leaky=0.1),
            conv_dw(8, 16, 1),
            conv_dw(16, 32, 2),
            conv_dw(32, 32, 1),
            conv_dw(32, 64, 2),
            conv_dw(64, 64, 1),
        )
        self.stage2 = nn.Sequential(conv_dw(64, 128, 2), *(conv_dw(128, 128, 1) for _ in range(5)))
        self.stage3 = nn.Sequential(conv_dw(128, 256, 2), conv_dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return [c1, c2, self.stage3(c2)]


class FPN(nn.Module):
    def __init__(self, in_channels: tuple[int, int, int], out_channels: int) -> None:
        super().__init__()
        leaky = 0.1 if out_channels <= 64 else 0.0
        self.output1 = conv_bn1x1(in_channels[0], out_channels, stride=1, leaky=leaky)
        self.output2 = conv_bn1x1(in_channels[1], out_channels, stride=1, leaky=leaky)
        self.output3 = conv_bn1x1(in_channels[2], out_channels, stride=1, leaky=leaky)
        self.merge1 = conv_bn(out_channels, out_channels, leaky=leaky)
        self.merge2 = conv_bn(out_channels, out_channels, leaky=leaky)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        output1 = self.output1(features[0])
        output2 = self.output2(features[1])
        output3 = self.output3(features[2])
        output2 = self.merge2(output2 + F.interpolate(output3, size=output2.shape[2:], mode="nearest"))
        output1 = self.merge1(output1 + F.interpolate(output2, size=output1.shape[2:], mode="nearest"))
        return [output1, output2, output3]


class SSH(nn.Module):
    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        leaky = 0.1 if out_channel <= 64 else 0.0
        self.conv3X3 = conv_bn_no_relu(in_channel, out_channel // 2, stride=1)
        self.conv5X5_1 = conv_bn(in_channel, out_channel // 4, stride=1, leaky=leaky)
        self.conv5X5_2 = conv_bn_no_relu(out_channel // 4, out_channel // 4, stride=1)
        self.conv7X7_2 = conv_bn(out_channel // 4, out_channel // 4, stride=1, leaky=leaky)
        self.conv7x7_3 = conv_bn_no_relu(out_channel // 4, out_channel // 4, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv5x5_1 = self.conv5X5_1(x)
        conv7x7 = self.conv7x7_3(self.conv7X7_2(conv5x5_1))
        return F.relu(torch.cat([self.conv3X3(x), self.conv5X5_2(conv5x5_1), conv7x7], dim=1))


class _Head(nn.Module):
    """A 1x1 convolution giving ``width`` values per anchor (upstream's ClassHead/BboxHead/LandmarkHead)."""

    def __init__(self, in_channels: int, width: int, num_anchors: int = 2) -> None:
        super().__init__()
        self.width = width
        self.conv1x1 = nn.Conv2d(in_channels, num_anchors * width, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1).contiguous()
        return out.view(out.shape[0], -1, self.width)


class RetinaFaceNet(nn.Module):
    """RetinaFace with the MobileNet-0.25 body (cfg_mnet), in test mode: class scores are softmaxed."""

    def __init__(self, in_channel: int = 32, out_channel: int = 64) -> None:
        super().__init__()
        self.body = MobileNetV1Body()
        self.fpn = FPN((in_channel * 2, in_channel * 4, in_channel * 8), out_channel)
        self.ssh1 = SSH(out_channel, out_channel)
        self.ssh2 = SSH(out_channel, out_channel)
        self.ssh3 = SSH(out_channel, out_channel)
        self.ClassHead = nn.ModuleList(_Head(out_channel, 2) for _ in range(3))
        self.BboxHead = nn.ModuleList(_Head(out_channel, 4) for _ in range(3))
        self.LandmarkHead = nn.ModuleList(_Head(out_channel, 10) for _ in range(3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fpn = self.fpn(self.body(x))
        features = [self.ssh1(fpn[0]), self.ssh2(fpn[1]), self.ssh3(fpn[2])]
        loc = torch.cat([h(f) for h, f in zip(self.BboxHead, features, strict=True)], dim=1)
        conf = torch.cat([h(f) for h, f in zip(self.ClassHead, features, strict=True)], dim=1)
        landms = torch.cat([h(f) for h, f in zip(self.LandmarkHead, features, strict=True)], dim=1)
        return loc, F.softmax(conf, dim=-1), landms


def priors(height: int, width: int) -> torch.Tensor:
    """Anchors (cx, cy, w, h) as fractions of the image, in upstream PriorBox's order."""
    out = []
    for sizes, step in zip(MIN_SIZES, STEPS, strict=True):
        rows, cols = -(-height // step), -(-width // step)
        cy, cx = torch.meshgrid(
            (torch.arange(rows, dtype=torch.float32) + 0.5) * step / height,
            (torch.arange(cols, dtype=torch.float32) + 0.5) * step / width,
            indexing="ij",
        )
        per_size = [
            torch.stack([cx, cy, torch.full_like(cx, s / width), torch.full_like(cy, s / height)], dim=-1)
            for s in sizes
        ]
        out.append(torch.stack(per_size, dim=2).reshape(-1, 4))  # row, column, then anchor size
    return torch.cat(out)


def decode_boxes(loc: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Box offsets -> (x0, y0, x1, y1) as fractions of the image (upstream ``decode``)."""
    centre = anchors[..., :2] + loc[..., :2] * VARIANCES[0] * anchors[..., 2:]
    size = anchors[..., 2:] * torch.exp(loc[..., 2:] * VARIANCES[1])
    return torch.cat([centre - size / 2, centre + size / 2], dim=-1)


def decode_landmarks(pre: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Landmark offsets -> 5 (x, y) points as fractions of the image (upstream ``decode_landm``)."""
    offsets = pre.reshape(*pre.shape[:-1], 5, 2)
    return anchors[..., None, :2] + offsets * VARIANCES[0] * anchors[..., None, 2:]


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first (upstream ``py_cpu_nms``, pixel boxes)."""
    x0, y0, x1, y1 = boxes.T
    areas = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) <= threshold]
    return keep


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors, without the ``module.`` prefix of multi-GPU training (as upstream strips it)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_retinaface(ctx: BuildContext) -> RetinaFaceDetector:
    from fea_agent.models.registry import model_path

    return RetinaFaceDetector(
        model_path("retinaface", folder=ctx.model_dir),
        score_threshold=ctx.detection_threshold,
        max_side=ctx.detection_max_side,
    )


class RetinaFaceDetector:
    """RetinaFace MobileNet-0.25 as a :class:`~fea_agent.backends.base.FaceDetector`."""

    name = "retinaface"

    def __init__(
        self,
        weights: Path,
        *,
        device: str | None = None,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.4,
        max_side: int = 640,
        min_face_px: float = 8.0,
    ) -> None:
        from fea_agent.devices import best_device

        self.device = device or best_device()
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self.min_face_px = min_face_px
        self.net = RetinaFaceNet()
        self.net.load_state_dict(load_state_dict(weights))
        self.net.eval().to(self.device)
        self._priors: dict[tuple[int, int], torch.Tensor] = {}

    def _anchors(self, height: int, width: int) -> torch.Tensor:
        key = (height, width)
        if key not in self._priors:
            self._priors[key] = priors(height, width).to(self.device)
        return self._priors[key]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return self.detect_batch([rgb])[0]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """Faces in each RGB image, largest first; images of one size (video frames) run as one batch."""
        out: list[list[Detection]] = [[] for _ in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, rgb in enumerate(images):
            groups.setdefault(rgb.shape, []).append(i)
        for indices in groups.values():
            for i, found in zip(indices, self._run([images[i] for i in indices]), strict=True):
                out[i] = found
        return out

    @torch.inference_mode()
    def _run(self, images: list[np.ndarray]) -> list[list[Detection]]:
        height, width = images[0].shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = [downscale(rgb, size) if scale < 1.0 else rgb for rgb in images]
        bgr = np.stack([im[..., ::-1] for im in small]).astype(np.float32) - np.float32(BGR_MEAN)
        x = torch.from_numpy(bgr).permute(0, 3, 1, 2).contiguous().to(self.device)
        loc, conf, landms = self.net(x)
        anchors = self._anchors(size[1], size[0])
        to_px = torch.tensor([size[0], size[1]], dtype=torch.float32, device=self.device) / scale
        corners = decode_boxes(loc, anchors).reshape(len(images), -1, 2, 2) * to_px
        boxes = corners.reshape(len(images), -1, 4)
        points = decode_landmarks(landms, anchors) * to_px
        scores = conf[..., 1]
        results = []
        for b in range(len(images)):
            keep = (scores[b] > self.score_threshold).nonzero().squeeze(1)
            bx, sc, pt = (t[b, keep].cpu().numpy() for t in (boxes, scores, points))
            found = []
            for i in nms(bx, sc, self.nms_threshold):
                x0, y0, x1, y1 = (float(v) for v in bx[i])
                w, h = x1 - x0, y1 - y0
                if min(w, h) < self.min_face_px:
                    continue
                found.append(Detection((x0, y0, w, h), float(sc[i]), pt[i].astype(np.float32)))
            found.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
            results.append(found)
        return results
