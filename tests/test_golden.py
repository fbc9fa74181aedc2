"""Parity with the authors' PyTorch release on fixed weights (tests/golden, see trim.py)."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hrm_jax
from hrm_jax import act, layers, model
from hrm_jax.interop import torch_names
from hrm_jax.losses import log_stablemax, stablemax_cross_entropy

GOLDEN = pathlib.Path(__file__).parent / "golden"
CFG = hrm_jax.HRMConfig(
  vocab_size=11,
  seq_len=81,
  num_puzzle_identifiers=10,
  puzzle_emb_ndim=64,
  hidden_size=64,
  num_heads=4,
  expansion=4,
  h_layers=2,
  l_layers=2,
  h_cycles=2,
  l_cycles=2,
  halt_max_steps=4,
  halt_exploration_prob=0.0,
)
FWD = dict(atol=1e-4, rtol=1e-4)
GRAD = dict(atol=1e-5, rtol=1e-3)


@pytest.fixture(scope="module")
def gold():
  return dict(np.load(GOLDEN / "hrm_golden.npz"))


@pytest.fixture(scope="module")
def params(gold):
  sd = {k: v for k, v in gold.items() if k.startswith("inner.")}
  expected = jax.eval_shape(lambda k: model.init(k, CFG), jax.random.key(0))
  return jax.tree.map(jnp.asarray, torch_names.params_from_state_dict(sd, CFG, expected))


def _batch(g):
  return {k: jnp.asarray(g[k]) for k in ("inputs", "labels", "puzzle_identifiers")}


def test_units(gold, params):
  net = params["net"]
  rows = params["puzzle_emb"][gold["puzzle_identifiers"]]
  emb = model.input_embedding(net, jnp.asarray(gold["inputs"]), rows, CFG)
  np.testing.assert_allclose(emb, gold["unit/input_embeddings"], **FWD)
  cos, sin = layers.rope_tables(CFG)
  x = jnp.asarray(gold["unit/block_in"])
  np.testing.assert_allclose(layers.rms_norm(x, 1e-5), gold["unit/rms_norm_out"], **FWD)
  h0 = net["H"]["layers_0"]
  attn = layers.Attention(CFG).apply({"params": h0["attn"]}, x, (cos, sin))
  np.testing.assert_allclose(attn, gold["unit/attn_out"], **FWD)
  mlp = layers.SwiGLU(CFG).apply({"params": h0["mlp"]}, x)
  np.testing.assert_allclose(mlp, gold["unit/mlp_out"], **FWD)
  block = layers.Block(CFG).apply({"params": h0}, x, (cos, sin))
  np.testing.assert_allclose(block, gold["unit/block_out"], **FWD)
  h = layers.ReasoningModule(CFG, 2).apply(
    {"params": net["H"]}, x, jnp.asarray(gold["unit/module_injection"]), (cos, sin)
  )
  np.testing.assert_allclose(h, gold["unit/H_level_out"], **FWD)


def test_eval_four_act_steps(gold, params):
  batch = _batch(gold)
  carry = hrm_jax.initial_carry(batch, CFG)
  step = jax.jit(lambda p, c, b: hrm_jax.apply(p, c, b, config=CFG, train=False))
  for i in range(4):
    carry, out = step(params, carry, batch)
    pre = f"eval/step{i}/"
    for k in ("logits", "q_halt_logits", "q_continue_logits"):
      np.testing.assert_allclose(out[k], gold[pre + k], **FWD, err_msg=pre + k)
    np.testing.assert_allclose(carry.z_H, gold[pre + "z_H"], **FWD)
    np.testing.assert_allclose(carry.z_L, gold[pre + "z_L"], **FWD)
    np.testing.assert_array_equal(carry.halted, gold[pre + "halted"])
    np.testing.assert_array_equal(carry.steps, gold[pre + "steps"])
    loss, metrics = hrm_jax.act_loss(out, carry.labels, carry)
    np.testing.assert_allclose(loss, gold[pre + "loss"], rtol=1e-5)
    for k in ("count", "exact_accuracy", "q_halt_accuracy", "steps"):
      assert int(metrics[k]) == int(gold[pre + "metrics/" + k]), pre + k
    for k in ("accuracy", "lm_loss", "q_halt_loss"):
      np.testing.assert_allclose(metrics[k], gold[pre + "metrics/" + k], rtol=1e-5, atol=1e-6)


def _train_grads(params, carry, batch):
  """One train-mode ACT step: gradients of the raw (unscaled) summed loss."""
  carry = hrm_jax.reset_carry(params, carry, batch, CFG)
  rows = act.puzzle_rows(params, carry.puzzle_identifiers)

  def loss_fn(net, rows):
    new_carry, out = hrm_jax.segment(
      {**params, "net": net}, carry, rows, config=CFG, train=True, rng=jax.random.key(0)
    )
    loss, metrics = hrm_jax.act_loss(out, new_carry.labels, new_carry)
    return loss, (new_carry, out, metrics)

  (loss, aux), grads = jax.value_and_grad(loss_fn, (0, 1), has_aux=True)(params["net"], rows)
  return loss, aux, grads


def test_train_four_act_steps_with_gradients(gold, params):
  batch = _batch(gold)
  carry = hrm_jax.initial_carry(batch, CFG)
  fn = jax.jit(_train_grads)
  for i in range(4):
    loss, (carry, out, metrics), (g_net, g_rows) = fn(params, carry, batch)
    pre = f"train/step{i}/"
    np.testing.assert_allclose(loss, gold[pre + "loss"], rtol=1e-5, err_msg=pre)
    for k in ("logits", "q_halt_logits", "q_continue_logits", "target_q_continue"):
      np.testing.assert_allclose(out[k], gold[pre + k], **FWD, err_msg=pre + k)
    np.testing.assert_allclose(carry.z_H, gold[pre + "z_H"], **FWD)
    np.testing.assert_allclose(carry.z_L, gold[pre + "z_L"], **FWD)
    np.testing.assert_array_equal(carry.halted, gold[pre + "halted"], err_msg=pre)
    np.testing.assert_array_equal(carry.steps, gold[pre + "steps"], err_msg=pre)
    for k in ("count", "exact_accuracy", "q_halt_accuracy", "steps"):
      assert int(metrics[k]) == int(gold[pre + "metrics/" + k]), pre + k
    for k in ("accuracy", "lm_loss", "q_halt_loss", "q_continue_loss"):
      np.testing.assert_allclose(metrics[k], gold[pre + "metrics/" + k], rtol=1e-5, atol=1e-6)
    grads_sd = torch_names.state_dict_from_params(
      {"net": g_net, "z0": params["z0"], "puzzle_emb": params["puzzle_emb"]}, CFG
    )
    for key, value in grads_sd.items():
      if pre + "grad/" + key in gold:
        np.testing.assert_allclose(value, gold[pre + "grad/" + key], **GRAD, err_msg=pre + key)
    n_grads = sum(1 for k in gold if k.startswith(pre + "grad/inner.") and "puzzle_emb" not in k)
    assert n_grads == 20
    np.testing.assert_allclose(g_rows, gold[pre + "grad/inner.puzzle_emb.local_weights"], **GRAD)
    np.testing.assert_array_equal(carry.puzzle_identifiers, gold[pre + "puzzle_emb_local_ids"])


def test_stablemax(gold):
  logits = jnp.asarray(gold["stablemax/logits"])
  labels = jnp.asarray(gold["stablemax/labels"])
  loss = stablemax_cross_entropy(logits, labels)
  np.testing.assert_allclose(loss, gold["stablemax/loss"], rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(
    log_stablemax(logits.astype(jnp.float32)), gold["stablemax/log_stablemax"], rtol=1e-5, atol=1e-6
  )
  grad = jax.grad(lambda x: stablemax_cross_entropy(x, labels).sum())(logits)
  np.testing.assert_allclose(grad, gold["stablemax/grad_logits_of_sum"], rtol=1e-5, atol=1e-7)


# ----- two full reference training updates (optim_golden.npz) -----

OPT = hrm_jax.OptimConfig(
  lr=1e-3,
  weight_decay=0.1,
  puzzle_emb_lr=1e-2,
  puzzle_emb_weight_decay=0.1,
  lr_warmup_steps=0,
  lr_min_ratio=1.0,
  total_steps=25,
)


@pytest.fixture(scope="module")
def opt_gold():
  return dict(np.load(GOLDEN / "optim_golden.npz"))


def _params_at(opt_gold, prefix):
  sd = {k[len(prefix) :]: v for k, v in opt_gold.items() if k.startswith(prefix)}
  return jax.tree.map(jnp.asarray, torch_names.params_from_state_dict(sd, CFG))


def _assert_params_close(params, opt_gold, prefix, atol, rtol, max_outliers):
  sd = torch_names.state_dict_from_params(params, CFG)
  for key, value in sd.items():
    want = opt_gold[prefix + key]
    bad = ~np.isclose(value, want, atol=atol, rtol=rtol)
    assert bad.sum() <= max_outliers, (key, bad.sum(), np.abs(value - want).max())
    # An outlier is a flipped sign of a ~1e-6 gradient: at most 2 * lr * atan(0.1)/0.1 off.
    assert np.abs(value - want).max() < 2.1e-3, key


def test_two_reference_updates_chain(gold, params, opt_gold):
  """Our own forward, gradient and both optimizers, twice, against the reference."""
  batch = {
    k: jnp.asarray(opt_gold["batch/" + k]) for k in ("inputs", "labels", "puzzle_identifiers")
  }
  state = hrm_jax.init_train_state(params, OPT)
  carry = hrm_jax.initial_carry(batch, CFG)
  step = jax.jit(hrm_jax.make_train_step(CFG, OPT))
  for i in (1, 2):
    state, carry, metrics = step(state, carry, batch, jax.random.key(0))
    np.testing.assert_allclose(metrics["loss"], opt_gold[f"step{i}/loss_scaled"], rtol=1e-5)
    np.testing.assert_allclose(metrics["lr"], opt_gold[f"step{i}/lr_adam"], rtol=1e-6)
    np.testing.assert_array_equal(carry.halted, opt_gold[f"step{i}/halted"])
    np.testing.assert_array_equal(carry.steps, opt_gold[f"step{i}/steps"])
    _assert_params_close(state.params, opt_gold, f"after_step{i}/", 1e-5, 1e-5, max_outliers=8)
  untouched = [r for r in range(10) if r not in (1, 3, 5, 7)]
  np.testing.assert_array_equal(
    np.asarray(state.params["puzzle_emb"])[untouched], gold["inner.puzzle_emb.weights"][untouched]
  )


def test_two_reference_updates_replay(params, opt_gold):
  """Only the optimizer math, fed the reference's own gradients: tight tolerance."""
  tx = hrm_jax.make_optimizer(OPT)
  net, table = params["net"], params["puzzle_emb"]
  opt_state = tx.init(net)
  for i in (1, 2):
    sd = {
      k[len(f"step{i}/grad/") :]: v
      for k, v in opt_gold.items()
      if k.startswith(f"step{i}/grad/inner.") and "puzzle_emb" not in k
    }
    sd |= {
      "inner.H_init": params["z0"]["H"],
      "inner.L_init": params["z0"]["L"],
      "inner.puzzle_emb.weights": table,
    }
    g_net = jax.tree.map(jnp.asarray, torch_names.params_from_state_dict(sd, CFG))["net"]
    updates, opt_state = tx.update(g_net, opt_state, net)
    net = jax.tree.map(lambda p, u: p + u, net, updates)
    table = hrm_jax.sparse_sign_sgd(
      table,
      jnp.asarray(opt_gold[f"step{i}/puzzle_emb_local_ids"]),
      jnp.asarray(opt_gold[f"step{i}/grad/inner.puzzle_emb.local_weights"]),
      OPT.puzzle_emb_lr * OPT.factor(i),
      OPT.puzzle_emb_weight_decay,
    )
    _assert_params_close(
      {"net": net, "puzzle_emb": table, "z0": params["z0"]},
      opt_gold,
      f"after_step{i}/",
      atol=1e-7,
      rtol=1e-6,
      max_outliers=0,
    )
