"""Attention: the implementation chosen by backend, and the XLA path against einsum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hrm_jax import layers


def test_attention_implementation_by_backend():
  pick = layers.attention_implementation
  assert pick("cpu", jnp.bfloat16, 64) == "xla"
  assert pick("tpu", jnp.bfloat16, 64) == "xla"
  assert pick("gpu", jnp.bfloat16, 64, "9.0") == "cudnn"
  assert pick("gpu", jnp.float16, 128, "8.0") == "cudnn"
  assert pick("gpu", jnp.float32, 64, "9.0") == "xla"  # cuDNN's kernel takes bf16/fp16
  assert pick("gpu", jnp.bfloat16, 64, "7.5") == "xla"  # before Ampere
  assert pick("gpu", jnp.bfloat16, 12, "9.0") == "xla"  # head dim not a multiple of 8
  assert pick("gpu", jnp.bfloat16, 256, "8.6") == "xla" and pick("gpu", jnp.bfloat16, 256, "9.0")
  assert pick("gpu", jnp.bfloat16, 64, "gfx90a") == "xla"  # a ROCm GPU
  assert pick("gpu", jnp.bfloat16, 64, None) == "xla"


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("bfloat16", 2e-2)])
def test_attend_equals_einsum_attention(dtype, tol):
  """Inputs in `dtype`, accumulation and output in float32."""
  assert jax.default_backend() == "cpu"  # the cudnn path cannot run here: XLA's is tested
  q, k, v = jax.random.normal(jax.random.key(0), (3, 2, 10, 4, 16), jnp.float32)
  s = jnp.einsum("btnh,bsnh->bnts", q, k) / 4.0  # sqrt(16)
  want = jnp.einsum("bnts,bsnh->btnh", jax.nn.softmax(s, axis=-1), v)
  got = layers.attend(q.astype(dtype), k.astype(dtype), v.astype(dtype))
  assert got.dtype == jnp.float32 and got.shape == (2, 10, 4, 16)  # the accumulator
  np.testing.assert_allclose(np.asarray(got, np.float32), want, atol=tol, rtol=tol)
