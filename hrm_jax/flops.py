"""The analytic FLOP count of a train step (matmuls only), per architecture."""

from __future__ import annotations

from hrm_jax import archs
from hrm_jax.config import HRMConfig


def block_flops_per_token(cfg: HRMConfig) -> float:
  """Forward matmul FLOPs of one block for one token (projections + token mixing)."""
  D, F, T = cfg.hidden_size, cfg.mlp_width, cfg.total_len
  channel_mlp = 2 * (D * 2 * F + F * D)
  if cfg.mlp_t:  # per channel a SwiGLU over the token axis: T -> 2 F_T -> T, per token D * 3 F_T
    return channel_mlp + 2 * 3 * D * cfg.swiglu_width(T)
  return channel_mlp + 2 * (D * 3 * D + D * D) + 2 * 2 * T * D  # qkv, out, q k^T, attn @ v


def segment_flops(cfg: HRMConfig, batch: int) -> float:
  """Analytic forward FLOPs of one ACT segment on `batch` examples (an evaluation's unit)."""
  tokens = batch * cfg.total_len
  blocks, _ = archs.get(cfg.arch).segment_blocks(cfg)
  return (
    blocks * block_flops_per_token(cfg) * tokens + 2 * tokens * cfg.hidden_size * cfg.vocab_size
  )


def train_step_flops(cfg: HRMConfig, batch: int) -> float:
  """Analytic FLOPs of one train step (forward, Q-target segment, backward)."""
  tokens = batch * cfg.total_len
  per_block = block_flops_per_token(cfg) * tokens
  blocks, grad_blocks = archs.get(cfg.arch).segment_blocks(cfg)
  head = 2 * tokens * cfg.hidden_size * cfg.vocab_size
  forward = segment_flops(cfg, batch)
  target = blocks * per_block if cfg.halt_max_steps > 1 and not cfg.no_act_continue else 0
  backward = 2 * (grad_blocks * per_block + head)
  return forward + target + backward
