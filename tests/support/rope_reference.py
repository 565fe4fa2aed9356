"""The 2-D RoPE written out from its rule (MLLA's layout, docs/en/advanced_guides/models.md),
independently of mmsola.ops, for the tests of every path that applies it (float64,
differentiable)."""
import torch


def rope_angles_reference(hw, num_heads: int, head_dim: int):
    """(num_heads, N, d/2) float64 angles, one Python loop per token, head and pair.

    Pair p of head h is the global pair P = h * d/2 + p of the full width C = heads * d;
    P < C/4 turns by row * theta[P], else by col * theta[P - C/4],
    theta[j] = 10000 ** (-j / (C/4)).
    """
    h_grid, w_grid = hw
    quarter = num_heads * head_dim // 4
    angles = torch.zeros(num_heads, h_grid * w_grid, head_dim // 2, dtype=torch.float64)
    for head in range(num_heads):
        for p in range(head_dim // 2):
            pair = head * head_dim // 2 + p
            for token in range(h_grid * w_grid):
                row, col = divmod(token, w_grid)
                if pair < quarter:
                    angle = row * 10000.0**(-pair / quarter)
                else:
                    angle = col * 10000.0**(-(pair - quarter) / quarter)
                angles[head, token, p] = angle
    return angles


def rope_reference(x: torch.Tensor, hw) -> torch.Tensor:
    """Rotate x (..., heads, N, d), channel pairs (p, p + d/2) of each head, in float64."""
    heads, _, d = x.shape[-3:]
    angles = rope_angles_reference(hw, heads, d).to(x.device)
    cos, sin = angles.cos(), angles.sin()
    x = x.double()
    x1, x2 = x[..., :d // 2], x[..., d // 2:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def mlla_rope(x: torch.Tensor, hw) -> torch.Tensor:
    """MLLA's RoPE on the full width, (..., N, C) before the head split: adjacent channels
    (2P, 2P + 1) as one complex number turned by the angle of pair P (MLLA's models/mlla.py,
    class RoPE, rewritten here)."""
    h_grid, w_grid = hw
    channels = x.shape[-1]
    k_max = channels // 4
    theta = 1.0 / (10000.0**(torch.arange(k_max, dtype=torch.float64) / k_max))
    rows, cols = torch.meshgrid(torch.arange(h_grid), torch.arange(w_grid), indexing='ij')
    angles = torch.cat([rows.reshape(-1, 1) * theta, cols.reshape(-1, 1) * theta], dim=-1)
    rotation = torch.polar(torch.ones_like(angles), angles)  # (N, C/2)
    pairs = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(pairs * rotation).flatten(-2)


def mlla_to_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """MLLA's (..., N, C) channels as mmsola's (..., heads, N, d): MLLA channels (2P, 2P + 1),
    P = h * d/2 + p, become channels (p, p + d/2) of head h (the permutation a converter
    applies to qk's output rows)."""
    *lead, n, channels = x.shape
    d = channels // num_heads
    pairs = x.reshape(*lead, n, num_heads, d // 2, 2)  # (.., N, head, p, re/im)
    return pairs.transpose(-1, -2).reshape(*lead, n, num_heads, d).transpose(-3, -2)

