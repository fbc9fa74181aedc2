"""Model configuration: every hyper-parameter of the HRM (SPEC section 1-2)."""
from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax.numpy as jnp

from hrm_jax.errors import UserError


class ConfigError(UserError, ValueError):
  """A configuration value that cannot work."""


@dataclasses.dataclass(frozen=True)
class HRMConfig:
  """Static hyper-parameters of one HRM. Hashable, so it can be a jit static arg.

  Defaults are the paper's Sudoku configuration (27.3M parameters).
  """
  vocab_size: int = 11                  # token vocabulary (PAD 0 included)
  seq_len: int = 81                     # task tokens per example (S)
  num_puzzle_identifiers: int = 1       # rows of the puzzle-embedding table
  puzzle_emb_ndim: int = 512            # width of a puzzle-embedding row; 0 = no prefix
  hidden_size: int = 512                # D
  num_heads: int = 8                    # attention heads; head_dim = D / heads
  expansion: float = 4.0                # SwiGLU width factor (before the 2/3 and 256 rounding)
  h_layers: int = 4                     # blocks in the high-level module H
  l_layers: int = 4                     # blocks in the low-level module L
  h_cycles: int = 2                     # N: H updates per segment
  l_cycles: int = 2                     # T: L updates per H update
  pos_encodings: Literal["rope", "learned"] = "rope"  # position scheme
  rope_theta: float = 10000.0           # RoPE base
  rms_norm_eps: float = 1e-5            # RMSNorm epsilon
  halt_max_steps: int = 16              # ACT: segments before a forced halt
  halt_exploration_prob: float = 0.1    # ACT: chance per slot to draw a min_halt_steps
  grad_mode: Literal["one_step", "bptt"] = "one_step"  # 1-step gradient or full BPTT in a segment
  loss_type: Literal["stablemax", "softmax"] = "stablemax"  # LM cross entropy
  q_loss_weight: float = 0.5            # weight of the Q-halt + Q-continue losses (reference: 0.5)
  param_dtype: str = "float32"          # storage dtype of parameters
  compute_dtype: str = "float32"        # activations/matmul inputs ("bfloat16" as in the reference)

  def __post_init__(self):
    positive = ("vocab_size", "seq_len", "num_puzzle_identifiers", "hidden_size", "num_heads",
                "h_layers", "l_layers", "h_cycles", "l_cycles", "halt_max_steps")
    for name in positive:
      value = getattr(self, name)
      if not isinstance(value, int) or value < 1:
        raise ConfigError(f"HRMConfig.{name} must be a positive integer, got {value!r}")
    if self.puzzle_emb_ndim < 0:
      raise ConfigError(f"HRMConfig.puzzle_emb_ndim must be >= 0, got {self.puzzle_emb_ndim}")
    if self.hidden_size % self.num_heads:
      raise ConfigError(f"HRMConfig.hidden_size ({self.hidden_size}) is not divisible by "
                        f"num_heads ({self.num_heads})")
    if self.pos_encodings == "rope" and self.head_dim % 2:
      raise ConfigError(f"RoPE needs an even head_dim, got {self.head_dim}")
    if not self.q_loss_weight >= 0:
      raise ConfigError(f"HRMConfig.q_loss_weight must be >= 0, got {self.q_loss_weight}")
    if self.expansion <= 0:
      raise ConfigError(f"HRMConfig.expansion must be > 0, got {self.expansion}")
    if not 0.0 <= self.halt_exploration_prob <= 1.0:
      raise ConfigError("HRMConfig.halt_exploration_prob must lie in [0, 1], "
                        f"got {self.halt_exploration_prob}")
    choices = {"pos_encodings": ("rope", "learned"), "grad_mode": ("one_step", "bptt"),
               "loss_type": ("stablemax", "softmax"),
               "param_dtype": ("float32", "bfloat16"),
               "compute_dtype": ("float32", "bfloat16")}
    for name, allowed in choices.items():
      if getattr(self, name) not in allowed:
        raise ConfigError(f"HRMConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")

  @property
  def head_dim(self) -> int:
    return self.hidden_size // self.num_heads

  @property
  def puzzle_emb_len(self) -> int:
    """P: prefix tokens taken by the puzzle embedding."""
    return math.ceil(self.puzzle_emb_ndim / self.hidden_size)

  @property
  def total_len(self) -> int:
    """P + S: the sequence length the blocks see."""
    return self.puzzle_emb_len + self.seq_len

  @property
  def mlp_width(self) -> int:
    """SwiGLU hidden width: round(expansion * D * 2/3) rounded up to a multiple of 256."""
    inter = round(self.expansion * self.hidden_size * 2 / 3)
    return -(-inter // 256) * 256

  @property
  def dtype(self):
    return jnp.dtype(self.compute_dtype)

  def replace(self, **changes) -> "HRMConfig":
    return dataclasses.replace(self, **changes)
