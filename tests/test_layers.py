"""Attention: the implementation chosen by backend, and the XLA path against einsum."""

import functools

import jax
import jax.extend
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


@pytest.mark.parametrize(
  "spec, a_shape, b_shape",
  [
    ("...k,kn->...n", (2, 5, 8), (8, 6)),  # nn.Dense
    ("bnth,bnsh->bnts", (2, 3, 5, 4), (2, 3, 7, 4)),  # attention logits
    ("bnts,bnsh->bnth", (2, 3, 5, 7), (2, 3, 7, 4)),  # attention values
  ],
)
def test_einsum32_gradients_take_the_inputs_dtype(spec, a_shape, b_shape):
  """float32 out; with bf16 inputs every matmul of the gradient takes bf16 operands (JAX's
  own gradient would multiply the float32 cotangent), and the bf16 gradients equal float32
  autodiff's to bf16 rounding."""
  a = jax.random.normal(jax.random.key(1), a_shape, jnp.float32)
  b = jax.random.normal(jax.random.key(2), b_shape, jnp.float32)
  a16, b16 = a.astype(jnp.bfloat16), b.astype(jnp.bfloat16)

  def grad(f):
    return jax.grad(lambda a, b: jnp.sum(jnp.sin(f(spec, a, b))), argnums=(0, 1))

  def dot_operand_dtypes(f):
    def walk(jaxpr):
      for e in jaxpr.eqns:
        if e.primitive.name == "dot_general":
          yield tuple(str(v.aval.dtype) for v in e.invars)
        for sub in jax.extend.core.jaxprs_in_params(e.params):
          yield from walk(sub)

    return set(walk(jax.make_jaxpr(grad(f))(a16, b16).jaxpr))

  plain = functools.partial(jnp.einsum, preferred_element_type=jnp.float32)
  assert layers.einsum32(spec, a16, b16).dtype == jnp.float32
  assert ("float32", "bfloat16") in dot_operand_dtypes(plain)  # what einsum32 avoids
  assert dot_operand_dtypes(layers.einsum32) == {("bfloat16", "bfloat16")}
  want = jax.jit(grad(jnp.einsum))(a, b)
  for g, w in zip(jax.jit(grad(layers.einsum32))(a16, b16), want):
    assert g.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(g, np.float32), w, atol=0.1, rtol=0.05)


@pytest.mark.skipif(jax.default_backend() != "gpu", reason="cuDNN's fused attention needs a GPU")
def test_cudnn_attend_equals_xla_attend():
  """On a GPU that has it, `attend` takes cuDNN's kernel for bf16 inputs; its output and its
  input gradients equal the XLA path's (the einsums) to bf16 rounding."""
  device = jax.devices()[0]
  cc = getattr(device, "compute_capability", None)
  if layers.attention_implementation("gpu", jnp.bfloat16, 64, cc) != "cudnn":
    pytest.skip(f"no cuDNN attention on this GPU (compute capability {cc})")
  qkv = jax.random.normal(jax.random.key(0), (3, 4, 97, 8, 64), jnp.float32).astype(jnp.bfloat16)

  def xla(q, k, v):  # einsum attention with attend's dtypes (bf16 in, f32 accumulation)
    s = jnp.einsum("btnh,bsnh->bnts", q, k, preferred_element_type=jnp.float32) / 8.0
    p = jax.nn.softmax(s, axis=-1).astype(v.dtype)
    return jnp.einsum("bnts,bsnh->btnh", p, v, preferred_element_type=jnp.float32)

  def loss(f, q, k, v):
    return jnp.sum(jnp.sin(f(q, k, v)))

  got, want = jax.jit(layers.attend)(*qkv), jax.jit(xla)(*qkv)
  assert "cudnn" in jax.jit(layers.attend).lower(*qkv).as_text().lower()
  np.testing.assert_allclose(got, want, atol=2e-2, rtol=2e-2)
  g_got = jax.jit(jax.grad(lambda *a: loss(layers.attend, *a), argnums=(0, 1, 2)))(*qkv)
  g_want = jax.jit(jax.grad(lambda *a: loss(xla, *a), argnums=(0, 1, 2)))(*qkv)
  for a, b in zip(g_got, g_want):
    np.testing.assert_allclose(
      np.asarray(a, np.float32), np.asarray(b, np.float32), atol=5e-2, rtol=5e-2
    )
