"""OpenFace 3.0's multitask network (``MTL``), with upstream's architecture and parameter names.

Upstream (``openface-test`` on PyPI, ``openface/model/MTL.py`` and ``openface/model/AU_model.py``): a timm
``tf_efficientnet_b0_ns`` backbone with its classifier removed; three Linear+ReLU branches ``fc_emotion``,
``fc_gaze``, ``fc_au``; ``emotion_classifier`` (8 logits), ``gaze_regressor`` (yaw, pitch) and the AU head
``au_regressor``, ME-GraphAU's AFG + FGG head (one Linear per AU, a graph layer over the AU nodes built from
their top-4 dot-product neighbours, then the cosine between each node and a learned, ReLU'd class vector).
The names match so ``MTL_backbone.pth`` loads with ``strict=True``; tests compare state-dict keys, shapes and
outputs with upstream's class. timm's ``tf_efficientnet_b0`` is the ``_ns`` architecture (the suffix names
the Noisy-Student pretrained tag, which only matters when timm downloads weights, never here).
"""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from torch import nn

BACKBONE = "tf_efficientnet_b0"


def normalize_digraph(adjacency: torch.Tensor) -> torch.Tensor:
    """D^-1/2 A D^-1/2 for a batch of adjacency matrices."""
    degrees = adjacency.detach().sum(dim=-1)
    inv_sqrt = degrees**-0.5
    return inv_sqrt.unsqueeze(-1) * adjacency * inv_sqrt.unsqueeze(-2)


class GNN(nn.Module):
    """X' = ReLU(X + BN(V(X) aggregated over each node's top-k neighbours + U(X))), 'dots' metric."""

    def __init__(self, in_channels: int, num_classes: int, neighbor_num: int = 4) -> None:
        super().__init__()
        self.neighbor_num = neighbor_num
        self.relu = nn.ReLU()
        self.U = nn.Linear(in_channels, in_channels)
        self.V = nn.Linear(in_channels, in_channels)
        self.bnv = nn.BatchNorm1d(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        similarity = torch.einsum("bic,bjc->bij", x.detach(), x.detach())
        threshold = similarity.topk(k=self.neighbor_num, dim=-1, largest=True)[0][:, :, -1:]
        adjacency = normalize_digraph((similarity >= threshold).float())
        aggregate = torch.einsum("bij,bjc->bic", adjacency, self.V(x))
        return self.relu(x + self.bnv(aggregate + self.U(x)))


class Head(nn.Module):
    """ME-GraphAU's AU head: a value in [0, 1] per AU (cosine of non-negative vectors)."""

    def __init__(self, in_channels: int, num_classes: int, neighbor_num: int = 4) -> None:
        super().__init__()
        self.class_linears = nn.ModuleList(nn.Linear(in_channels, in_channels) for _ in range(num_classes))
        self.gnn = GNN(in_channels, num_classes, neighbor_num=neighbor_num)
        self.sc = nn.Parameter(torch.zeros(num_classes, in_channels))
        self.relu = nn.ReLU()
        nn.init.xavier_uniform_(self.sc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = self.gnn(torch.stack([layer(x) for layer in self.class_linears], dim=1))
        classes = F.normalize(self.relu(self.sc), p=2, dim=-1)
        return (F.normalize(nodes, p=2, dim=-1) * classes.unsqueeze(0)).sum(dim=-1)


class MTL(nn.Module):
    """Returns ``(emotion_logits (B, 8), gaze (B, 2), aus (B, 8))`` for ImageNet-normalised 224x224 RGB."""

    def __init__(self, expr_classes: int = 8, au_numbers: int = 8) -> None:
        super().__init__()
        self.base_model = timm.create_model(BACKBONE, pretrained=False)
        self.base_model.classifier = nn.Identity()
        dim = self.base_model.num_features
        self.relu = nn.ReLU()
        self.fc_emotion = nn.Linear(dim, dim)
        self.fc_gaze = nn.Linear(dim, dim)
        self.fc_au = nn.Linear(dim, dim)
        self.emotion_classifier = nn.Linear(dim, expr_classes)
        self.gaze_regressor = nn.Linear(dim, 2)
        self.au_regressor = Head(in_channels=dim, num_classes=au_numbers, neighbor_num=4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.base_model(x)
        emotion = self.emotion_classifier(self.relu(self.fc_emotion(features)))
        gaze = self.gaze_regressor(self.relu(self.fc_gaze(features)))
        aus = self.au_regressor(self.relu(self.fc_au(features)))
        return emotion, gaze, aus
