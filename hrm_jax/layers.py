"""Transformer pieces of the HRM and TRM (SPEC section 1), as Flax Linen modules.

Post-norm blocks, RMSNorm without a gain, fused-qkv attention with RoPE, SwiGLU, and
TRM's token-mixing SwiGLU (mlp_t). Matmuls take `compute_dtype` inputs and accumulate
in float32.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hrm_jax.config import HRMConfig

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the
# truncated draw have exactly the requested std (as the reference's init does).
TRUNC_STD_CORRECTION = 0.87962566103423978


def trunc_normal(std: float) -> nn.initializers.Initializer:
  """Normal truncated to [-2 std, 2 std] whose actual std is `std`."""
  return nn.initializers.truncated_normal(std / TRUNC_STD_CORRECTION, lower=-2.0, upper=2.0)


# LeCun: std 1/sqrt(fan_in), truncated at two std and corrected for the truncation.
lecun_trunc_normal = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _einsum_lowp(spec: str, a: jax.Array, b: jax.Array) -> jax.Array:
  return jnp.einsum(spec, a, b, preferred_element_type=jnp.float32)


def _einsum_lowp_fwd(spec, a, b):
  return _einsum_lowp(spec, a, b), (a, b)


def _einsum_lowp_bwd(spec, res, g):
  a, b = res
  (sa, sb), out = spec.split("->")[0].split(","), spec.split("->")[1]
  g = g.astype(a.dtype)  # the cotangent in the compute dtype, as the reference's autograd has it
  da = jnp.einsum(f"{out},{sb}->{sa}", g, b, preferred_element_type=jnp.float32)
  db = jnp.einsum(f"{out},{sa}->{sb}", g, a, preferred_element_type=jnp.float32)
  return da.astype(a.dtype), db.astype(b.dtype)


_einsum_lowp.defvjp(_einsum_lowp_fwd, _einsum_lowp_bwd)


def einsum32(spec: str, a: jax.Array, b: jax.Array) -> jax.Array:
  """jnp.einsum(spec, a, b) accumulated in and returned as float32.

  With bfloat16 (or other low-precision) inputs, the gradient takes the inputs' dtype: the
  float32 cotangent is cast to it and both backward matmuls run on it, accumulating in
  float32 (the reference's bf16 autograd). Left to JAX, those matmuls would mix the
  float32 cotangent with bf16 operands and run in float32 on upcast copies. Every index of
  each operand must appear in the other operand or in the output (true of matmuls).
  float32 inputs take jnp.einsum and JAX's own gradient, unchanged.
  """
  if a.dtype == jnp.float32 and b.dtype == jnp.float32:
    return jnp.einsum(spec, a, b, preferred_element_type=jnp.float32)
  return _einsum_lowp(spec, a, b)


def _f32_accumulate(lhs, rhs, dimension_numbers, precision=None, **_):
  """nn.Dense's dot_general: x[..., K] @ kernel[K, N] through `einsum32`."""
  assert dimension_numbers == (((lhs.ndim - 1,), (0,)), ((), ())), dimension_numbers
  assert precision is None, precision
  return einsum32("...k,kn->...n", lhs, rhs)


def dense(features: int, cfg: HRMConfig, name: str) -> nn.Dense:
  """A bias-free linear layer: `compute_dtype` inputs, float32 accumulation."""
  return nn.Dense(
    features,
    use_bias=False,
    dtype=cfg.dtype,
    param_dtype=cfg.param_dtype,
    kernel_init=lecun_trunc_normal,
    dot_general=_f32_accumulate,
    name=name,
  )


def rms_norm(x: jax.Array, eps: float) -> jax.Array:
  """x / rms(x) over the last axis, computed in float32, no learned gain."""
  x32 = x.astype(jnp.float32)
  x32 = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + eps)
  return x32.astype(x.dtype)


def rope_tables(cfg: HRMConfig) -> tuple[np.ndarray, np.ndarray]:
  """cos, sin tables [P+S, head_dim] in float32 for positions 0..P+S-1.

  Host (numpy) arrays, so that a jitted caller holds them as constants: computed in the
  graph, XLA fuses the cos and sin into every consumer and evaluates them per element
  (four transcendentals per element of the RoPE gradient: ~6% of the small bf16 step).
  """
  half = np.arange(0, cfg.head_dim, 2, dtype=np.float32) / np.float32(cfg.head_dim)
  inv_freq_H2 = np.float32(1.0) / (np.float32(cfg.rope_theta) ** half)
  freqs_TxH2 = np.outer(np.arange(cfg.total_len, dtype=np.float32), inv_freq_H2)
  emb_TxH = np.concatenate([freqs_TxH2, freqs_TxH2], axis=-1)
  return np.cos(emb_TxH), np.sin(emb_TxH)


def apply_rope(x_BxTxNxH: jax.Array, cos_TxH: jax.Array, sin_TxH: jax.Array) -> jax.Array:
  """Rotate-half RoPE, computed in float32 and cast back."""
  x = x_BxTxNxH.astype(jnp.float32)
  half = x.shape[-1] // 2
  rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
  out = x * cos_TxH[:, None, :] + rotated * sin_TxH[:, None, :]
  return out.astype(x_BxTxNxH.dtype)


# Compute dtypes cuDNN's fused (flash) attention takes.
FUSED_ATTENTION_DTYPES = ("bfloat16", "float16")


def attention_implementation(
  backend: str, dtype, head_dim: int, compute_capability: str | None = None
) -> str:
  """`jax.nn.dot_product_attention`'s implementation for these settings: "cudnn" (the fused
  flash kernel) on a CUDA GPU of compute capability >= 8.0 with bf16/fp16 inputs and a head
  dim that is a multiple of 8 up to 128 (256 from 9.0, Hopper), else "xla"."""
  if (
    backend != "gpu"
    or not compute_capability
    or jnp.dtype(dtype).name not in FUSED_ATTENTION_DTYPES
  ):
    return "xla"
  try:  # CUDA's "9.0"; other GPUs (ROCm) name theirs otherwise and get "xla"
    major_minor = tuple(int(x) for x in compute_capability.split(".")[:2])
  except ValueError:
    return "xla"
  head_max = 256 if major_minor >= (9, 0) else 128
  ok = major_minor >= (8, 0) and head_dim % 8 == 0 and head_dim <= head_max
  return "cudnn" if ok else "xla"


def attend(q_BxTxNxH: jax.Array, k_BxTxNxH: jax.Array, v_BxTxNxH: jax.Array) -> jax.Array:
  """Full attention softmax(q k^T / sqrt(H)) v in float32 [B, T, N, H].

  With the backend's fused kernel where `attention_implementation` allows it (the device is
  the first of this process), else two einsums that take the compute dtype and accumulate
  in float32, the softmax in float32 between them. (`jax.nn.dot_product_attention`'s XLA
  path multiplies the probabilities and v with a bf16 result, which XLA's CPU backend runs
  as a float32 matmul on upcast copies.)
  """
  device = jax.local_devices()[0]
  impl = attention_implementation(
    jax.default_backend(),
    q_BxTxNxH.dtype,
    q_BxTxNxH.shape[-1],
    getattr(device, "compute_capability", None),
  )
  scale = q_BxTxNxH.shape[-1] ** -0.5
  if impl != "xla":
    return jax.nn.dot_product_attention(
      q_BxTxNxH, k_BxTxNxH, v_BxTxNxH, scale=scale, implementation=impl
    ).astype(jnp.float32)
  # heads ahead of tokens, merged with the batch into one axis X = B*N: plain batched
  # matmuls on row-major operands. (XLA's CPU backend runs a bf16 dot in float32 on upcast
  # copies when an operand is only a transposed view, which a swapaxes alone leaves; the
  # reshape makes the copy real. Token-major contractions run 2-3x slower.)
  B, T, N, H = q_BxTxNxH.shape
  q_XxTxH, k_XxSxH, v_XxSxH = (
    jnp.swapaxes(x, 1, 2).reshape(B * N, T, H) for x in (q_BxTxNxH, k_BxTxNxH, v_BxTxNxH)
  )
  logits_XxTxS = einsum32("xth,xsh->xts", q_XxTxH, k_XxSxH)
  probs_XxTxS = jax.nn.softmax(logits_XxTxS * scale, axis=-1).astype(v_XxSxH.dtype)
  o_XxTxH = einsum32("xts,xsh->xth", probs_XxTxS, v_XxSxH)
  return jnp.swapaxes(o_XxTxH.reshape(B, N, T, H), 1, 2)


class Attention(nn.Module):
  """Full (non-causal) multi-head attention with a fused qkv projection; float32 out (the
  projection's accumulator), its matmuls in the compute dtype."""

  cfg: HRMConfig

  @nn.compact
  def __call__(self, x_BxTxD, rope):
    cfg = self.cfg
    B, T, _ = x_BxTxD.shape
    N, H = cfg.num_heads, cfg.head_dim
    qkv = dense(3 * cfg.hidden_size, cfg, "qkv")(x_BxTxD)  # float32: RoPE takes it as is
    qkv_BxTx3NxH = qkv.reshape(B, T, 3 * N, H)
    q, k, v = qkv_BxTx3NxH[:, :, :N], qkv_BxTx3NxH[:, :, N : 2 * N], qkv_BxTx3NxH[:, :, 2 * N :]
    if rope is not None:
      q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    o_BxTxNxH = attend(q.astype(cfg.dtype), k.astype(cfg.dtype), v.astype(cfg.dtype))
    return dense(cfg.hidden_size, cfg, "out")(o_BxTxNxH.reshape(B, T, N * H))


class SwiGLU(nn.Module):
  """W_down(silu(gate) * up) with a fused gate/up projection, over the last axis (width F);
  the gating in float32 on the projection's accumulator, float32 out.

  The hidden width is `cfg.swiglu_width(F)`: for F = D that is `cfg.mlp_width`.
  """

  cfg: HRMConfig

  @nn.compact
  def __call__(self, x_BxTxF):
    cfg, F = self.cfg, x_BxTxF.shape[-1]
    gate, up = jnp.split(dense(2 * cfg.swiglu_width(F), cfg, "gate_up")(x_BxTxF), 2, axis=-1)
    return dense(F, cfg, "down")(jax.nn.silu(gate) * up)  # its input cast to the compute dtype


def add_norm(x: jax.Array, y32: jax.Array, eps: float) -> jax.Array:
  """rms_norm(x + y) in float32 (y: a sublayer's float32 output), cast to x's dtype."""
  return rms_norm(x.astype(jnp.float32) + y32, eps).astype(x.dtype)


class Block(nn.Module):
  """Post-norm block: x = norm(x + mix(x)); x = norm(x + mlp(x)).

  The token mixer is attention ("attn"), or with cfg.mlp_t a SwiGLU over the token
  axis ("mlp_t", TRM-MLP): on x^T [B, D, P+S], normalised over the tokens. The residual
  sums and norms run in float32; x between sublayers is in the compute dtype.
  """

  cfg: HRMConfig

  @nn.compact
  def __call__(self, x_BxTxD, rope):
    eps = self.cfg.rms_norm_eps
    if self.cfg.mlp_t:
      x_BxDxT = jnp.swapaxes(x_BxTxD, 1, 2)
      x_BxDxT = add_norm(x_BxDxT, SwiGLU(self.cfg, name="mlp_t")(x_BxDxT), eps)
      x_BxTxD = jnp.swapaxes(x_BxDxT, 1, 2)
    else:
      x_BxTxD = add_norm(x_BxTxD, Attention(self.cfg, name="attn")(x_BxTxD, rope), eps)
    return add_norm(x_BxTxD, SwiGLU(self.cfg, name="mlp")(x_BxTxD), eps)


class ReasoningModule(nn.Module):
  """One recurrent module (H or L): f(z, injection) = blocks(z + injection)."""

  cfg: HRMConfig
  num_layers: int

  @nn.compact
  def __call__(self, z_BxTxD, injection_BxTxD, rope):
    x = z_BxTxD + injection_BxTxD
    for i in range(self.num_layers):
      x = Block(self.cfg, name=f"layers_{i}")(x, rope)
    return x
