"""FEALLM's two trained vision modules: the Local Clue Aggregator and the Multi-perspective Projector.

Read from the architecture figure of Hu et al. (ACM MM 2025); the paper's code is not public, so sizes and the
details the figure leaves open (how F_s is joined, the conv block) are our choices, stated where they are made.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fea_agent.reasoning.feallm.regions import NUM_REGIONS


def cut_regions(pixel_values: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(B, R, C, size, size) patches of ``pixel_values`` (B, C, H, W) inside ``boxes`` (B, R, 4; x0 y0 x1 y1 in 0-1).

    Bilinear sampling with an affine grid (no torchvision needed); outside the image reads as zero.
    """
    b, r = boxes.shape[:2]
    c = pixel_values.shape[1]
    x0, y0, x1, y1 = boxes.unbind(-1)
    theta = torch.zeros(b, r, 2, 3, dtype=pixel_values.dtype, device=pixel_values.device)
    # grid_sample works in [-1, 1]: map the unit square of the output onto each box.
    theta[..., 0, 0] = x1 - x0
    theta[..., 0, 2] = x0 + x1 - 1
    theta[..., 1, 1] = y1 - y0
    theta[..., 1, 2] = y0 + y1 - 1
    grid = F.affine_grid(theta.view(b * r, 2, 3), [b * r, c, size, size], align_corners=False)
    images = (
        pixel_values.unsqueeze(1)
        .expand(b, r, *pixel_values.shape[1:])
        .reshape(b * r, *pixel_values.shape[1:])
    )
    patches = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return patches.view(b, r, c, size, size)


class LocalClueAggregator(nn.Module):
    """16 local face regions -> F'_local (one token per region, at the encoder's width) and F_local (one LLM token).

    Each region passes its own conv block (a grouped convolution runs the 16 blocks at once) down to one token;
    self-attention over the 16 tokens gives F_attn; a linear projector gives F'_local, which the
    Multi-perspective Projector attends to; flattening F_attn and a linear projector give F_local, the extra
    token fed to the language model.
    """

    def __init__(
        self,
        vision_dim: int,
        llm_dim: int,
        *,
        hidden_dim: int = 256,
        conv_channels: int = 32,
        region_size: int = 32,
        num_heads: int = 4,
        num_regions: int = NUM_REGIONS,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.num_regions, self.region_size, self.in_channels = num_regions, region_size, in_channels
        g, c = num_regions, conv_channels
        self.conv = nn.Sequential(
            nn.Conv2d(g * in_channels, g * c, 3, padding=1, groups=g),
            nn.GroupNorm(g, g * c),
            nn.GELU(),
            nn.Conv2d(g * c, g * c, 3, stride=2, padding=1, groups=g),
            nn.GroupNorm(g, g * c),
            nn.GELU(),
            nn.Conv2d(g * c, g * c, 3, stride=2, padding=1, groups=g),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.to_token = nn.Linear(c, hidden_dim)
        self.region_embedding = nn.Parameter(torch.zeros(num_regions, hidden_dim))
        self.attn_norm = nn.LayerNorm(hidden_dim)
        self.attn = nn.MultiheadAttention(hidden_dim, num_heads, batch_first=True)
        self.to_vision = nn.Linear(hidden_dim, vision_dim)  # F'_local
        self.to_llm = nn.Linear(num_regions * hidden_dim, llm_dim)  # F_local

    def forward(self, pixel_values: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``pixel_values`` (B, C, H, W), ``boxes`` (B, 16, 4) -> F'_local (B, 16, vision_dim), F_local (B, 1, llm_dim)."""
        b = pixel_values.shape[0]
        patches = cut_regions(pixel_values, boxes.to(pixel_values.dtype), self.region_size)
        patches = patches.reshape(b, self.num_regions * self.in_channels, self.region_size, self.region_size)
        tokens = self.conv(patches).view(b, self.num_regions, -1)
        tokens = self.to_token(tokens) + self.region_embedding
        normed = self.attn_norm(tokens)
        attn = tokens + self.attn(normed, normed, normed, need_weights=False)[0]  # F_attn
        return self.to_vision(attn), self.to_llm(attn.flatten(1)).unsqueeze(1)


class _Attention(nn.Module):
    """Pre-norm attention of queries over a memory, added back to the queries (a residual block)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        q = self.norm_q(x)
        kv = q if memory is None else self.norm_kv(memory)
        return x + self.attn(q, kv, kv, need_weights=False)[0]


class MultiPerspectiveProjector(nn.Module):
    """Visual tokens for the LLM from three perspectives: global (F_L), multi-level (F_s) and local (F'_local).

    Cross-attention with query F_L over F_s, residual; cross-attention over F'_local, residual; self-attention,
    residual; an MLP projector to the LLM's width. F_s joins the intermediate blocks F1..F(L-1) along the
    feature axis (one vector per patch holding every level), projected back to the encoder's width: the figure
    says "concatenate" without the axis, and this keeps the key count at one per patch.
    """

    def __init__(self, vision_dim: int, num_intermediate: int, llm_dim: int, *, num_heads: int = 8) -> None:
        super().__init__()
        self.num_intermediate = num_intermediate
        self.fs_proj = nn.Linear(vision_dim * num_intermediate, vision_dim)
        self.cross_multilevel = _Attention(vision_dim, num_heads)
        self.cross_local = _Attention(vision_dim, num_heads)
        self.self_attn = _Attention(vision_dim, num_heads)
        self.mlp = nn.Sequential(
            nn.LayerNorm(vision_dim), nn.Linear(vision_dim, llm_dim), nn.GELU(), nn.Linear(llm_dim, llm_dim)
        )

    def forward(
        self, f_last: torch.Tensor, f_intermediate: torch.Tensor, f_local: torch.Tensor
    ) -> torch.Tensor:
        """F_L (B, N, D), F_s (B, N, D * (L-1)), F'_local (B, 16, D) -> visual tokens (B, N, llm_dim)."""
        x = self.cross_multilevel(f_last, self.fs_proj(f_intermediate))
        x = self.cross_local(x, f_local)
        x = self.self_attn(x)
        return self.mlp(x)
