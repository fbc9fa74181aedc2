"""Model configuration: every hyper-parameter of the recurrent reasoning models (SPEC 1-2)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax.numpy as jnp

from hrm_jax import archs
from hrm_jax.errors import UserError


class ConfigError(UserError, ValueError):
  """A configuration value that cannot work."""


@dataclasses.dataclass(frozen=True)
class HRMConfig:
  """Static hyper-parameters of one model. Hashable, so it can be a jit static arg.

  Defaults are the HRM paper's Sudoku configuration (27.3M parameters). `arch` picks the
  recursion (hrm_jax/archs): "hrm" (two modules H and L), "trm" (the Tiny Recursive
  Model: one module of l_layers blocks, h_layers must be 0) or "transformer" (the TRM
  release's baseline: h_layers blocks applied once per ACT step; l_layers 0, cycles 1).
  """

  arch: str = "hrm"  # architecture, a name of hrm_jax.archs.REGISTRY
  vocab_size: int = 11  # token vocabulary (PAD 0 included)
  seq_len: int = 81  # task tokens per example (S)
  num_puzzle_identifiers: int = 1  # rows of the puzzle-embedding table
  puzzle_emb_ndim: int = 512  # width of a puzzle-embedding row; 0 = no prefix
  puzzle_emb_len: int = 0  # prefix tokens of the row; 0 = ceil(ndim / D) (TRM: 16)
  hidden_size: int = 512  # D
  num_heads: int = 8  # attention heads; head_dim = D / heads
  expansion: float = 4.0  # SwiGLU width factor (before the 2/3 and 256 rounding)
  h_layers: int = 4  # blocks in the high-level module H
  l_layers: int = 4  # blocks in the low-level module L (0 for arch="transformer")
  h_cycles: int = 2  # N: H updates per segment
  l_cycles: int = 2  # T: L updates per H update
  pos_encodings: Literal["rope", "learned", "none"] = "rope"  # position scheme
  mlp_t: bool = False  # mix tokens with a SwiGLU over the token axis, no attention
  rope_theta: float = 10000.0  # RoPE base
  rms_norm_eps: float = 1e-5  # RMSNorm epsilon
  halt_max_steps: int = 16  # ACT: segments before a forced halt
  halt_exploration_prob: float = 0.1  # ACT: chance per slot to draw a min_halt_steps
  no_act_continue: bool = False  # ACT: halt on q_halt > 0 alone, no Q-continue target
  grad_mode: Literal["one_step", "bptt"] = "one_step"  # 1-step gradient or full BPTT in a segment
  loss_type: Literal["stablemax", "softmax"] = "stablemax"  # LM cross entropy
  q_loss_weight: float = 0.5  # weight of the Q-halt + Q-continue losses (reference: 0.5)
  param_dtype: str = "float32"  # storage dtype of parameters
  compute_dtype: str = "float32"  # activations/matmul inputs ("bfloat16" as in the reference)

  def __post_init__(self):
    if self.arch not in archs.REGISTRY:
      raise ConfigError(f"HRMConfig.arch must be one of {tuple(archs.REGISTRY)}, got {self.arch!r}")
    positive = (
      "vocab_size",
      "seq_len",
      "num_puzzle_identifiers",
      "hidden_size",
      "num_heads",
      "h_cycles",
      "l_cycles",
      "halt_max_steps",
    )
    for name in positive + ("h_layers", "l_layers", "puzzle_emb_ndim", "puzzle_emb_len"):
      value = getattr(self, name)
      least = 1 if name in positive else 0
      if not isinstance(value, int) or value < least:
        kind = "a positive integer" if least else "an integer >= 0"
        raise ConfigError(f"HRMConfig.{name} must be {kind}, got {value!r}")
    auto_len = math.ceil(self.puzzle_emb_ndim / self.hidden_size)
    if self.puzzle_emb_len and not self.puzzle_emb_ndim:
      raise ConfigError(
        "HRMConfig.puzzle_emb_len needs a puzzle embedding: set it to 0 or puzzle_emb_ndim > 0"
      )
    if self.puzzle_emb_len and self.puzzle_emb_len < auto_len:
      raise ConfigError(
        f"HRMConfig.puzzle_emb_len ({self.puzzle_emb_len}) cannot hold a "
        f"{self.puzzle_emb_ndim}-wide row of {self.hidden_size}-wide tokens: "
        f"set it to 0 or >= {auto_len}"
      )
    if self.mlp_t and self.pos_encodings == "rope":
      raise ConfigError(
        "HRMConfig.mlp_t blocks have no attention to rotate: set "
        "pos_encodings='none' (or 'learned')"
      )
    if self.hidden_size % self.num_heads:
      raise ConfigError(
        f"HRMConfig.hidden_size ({self.hidden_size}) is not divisible by "
        f"num_heads ({self.num_heads})"
      )
    if self.pos_encodings == "rope" and self.head_dim % 2:
      raise ConfigError(f"RoPE needs an even head_dim, got {self.head_dim}")
    if not self.q_loss_weight >= 0:
      raise ConfigError(f"HRMConfig.q_loss_weight must be >= 0, got {self.q_loss_weight}")
    if self.expansion <= 0:
      raise ConfigError(f"HRMConfig.expansion must be > 0, got {self.expansion}")
    if not 0.0 <= self.halt_exploration_prob <= 1.0:
      raise ConfigError(
        f"HRMConfig.halt_exploration_prob must lie in [0, 1], got {self.halt_exploration_prob}"
      )
    choices = {
      "pos_encodings": ("rope", "learned", "none"),
      "grad_mode": ("one_step", "bptt"),
      "loss_type": ("stablemax", "softmax"),
      "param_dtype": ("float32", "bfloat16"),
      "compute_dtype": ("float32", "bfloat16"),
    }
    for name, allowed in choices.items():
      if getattr(self, name) not in allowed:
        raise ConfigError(f"HRMConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
    archs.get(self.arch).check_config(self)

  @property
  def head_dim(self) -> int:
    return self.hidden_size // self.num_heads

  @property
  def prefix_len(self) -> int:
    """P: prefix tokens taken by the puzzle embedding (puzzle_emb_len, or ceil(ndim / D))."""
    return self.puzzle_emb_len or math.ceil(self.puzzle_emb_ndim / self.hidden_size)

  @property
  def total_len(self) -> int:
    """P + S: the sequence length the blocks see."""
    return self.prefix_len + self.seq_len

  def swiglu_width(self, features: int) -> int:
    """SwiGLU hidden width over `features`: round(expansion * features * 2/3), up to 256k."""
    inter = round(self.expansion * features * 2 / 3)
    return -(-inter // 256) * 256

  @property
  def mlp_width(self) -> int:
    """Hidden width of the channel SwiGLU (over D)."""
    return self.swiglu_width(self.hidden_size)

  @property
  def dtype(self):
    return jnp.dtype(self.compute_dtype)

  def replace(self, **changes) -> "HRMConfig":
    return dataclasses.replace(self, **changes)
