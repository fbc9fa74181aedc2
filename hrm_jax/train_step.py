"""One training update: forward, ACT loss, 1-step gradient, AdamATan2 + sparse sign-SGD."""
from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
import optax

from hrm_jax import act, model
from hrm_jax.batch import validate_batch
from hrm_jax.config import HRMConfig
from hrm_jax.losses import act_loss
from hrm_jax.optim import adam_atan2, lr_factor, sparse_sign_sgd


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Optimizer settings; defaults are the reference's Sudoku/Maze settings (SPEC section 4)."""
  lr: float = 1e-4                      # AdamATan2 base learning rate
  lr_min_ratio: float = 1.0             # cosine floor as a fraction of lr (1.0 = constant)
  lr_warmup_steps: int = 2000           # linear warmup updates
  total_steps: int = 100_000            # updates in the run (end of the cosine)
  beta1: float = 0.9                    # AdamATan2 beta1
  beta2: float = 0.95                   # AdamATan2 beta2
  weight_decay: float = 1.0             # AdamATan2 decoupled weight decay
  puzzle_emb_lr: float = 1e-4           # sign-SGD base learning rate of the puzzle table
  puzzle_emb_weight_decay: float = 1.0  # sign-SGD weight decay (touched rows only)

  def factor(self, step):
    """Schedule multiplier at 1-based update `step`."""
    return lr_factor(step, warmup_steps=self.lr_warmup_steps, total_steps=self.total_steps,
                     min_ratio=self.lr_min_ratio)


@flax.struct.dataclass
class TrainState:
  """Everything an update changes: step count, parameters, AdamATan2 state."""
  step: jax.Array         # int32 [] updates done so far
  params: dict            # see hrm_jax.model
  opt_state: optax.OptState  # AdamATan2 state of params["net"]


def make_optimizer(oc: OptimConfig) -> optax.GradientTransformation:
  """AdamATan2 over params["net"], driven by the shared warmup + cosine schedule."""
  return adam_atan2(lambda count: oc.lr * oc.factor(count + 1), b1=oc.beta1, b2=oc.beta2,
                    weight_decay=oc.weight_decay)


def init_train_state(params: dict, oc: OptimConfig) -> TrainState:
  """A TrainState at step 0 for `params`."""
  return TrainState(step=jnp.zeros([], jnp.int32), params=params,
                    opt_state=make_optimizer(oc).init(params["net"]))


def make_train_step(config: HRMConfig, oc: OptimConfig):
  """Returns the pure `train_step(state, carry, batch, rng) -> (state, carry, metrics)`.

  Jit it (donating state and carry), e.g. `jax.jit(step, donate_argnums=(0, 1))`.
  The gradient is that of the summed ACT loss divided by the global batch size,
  as the reference's pretrain.py backpropagates. `metrics` holds the loss-head
  sums (see `losses.act_loss`), "loss" (the scaled loss) and both learning rates.
  """
  tx = make_optimizer(oc)

  def train_step(state: TrainState, carry: act.Carry, batch: dict, rng: jax.Array):
    validate_batch(batch, config, carry=carry)
    params = state.params
    carry = act.reset_carry(params, carry, batch, config)
    ids_B = carry.puzzle_identifiers
    rows_BxE = act.puzzle_rows(params, ids_B)
    global_batch = batch["inputs"].shape[0]

    def loss_fn(net, rows):
      new_carry, out = act.segment({**params, "net": net}, carry, rows, config=config,
                                   train=True, rng=rng)
      loss, metrics = act_loss(out, new_carry.labels, new_carry, config.loss_type,
                               config.q_loss_weight)
      return loss / global_batch, (new_carry, metrics)

    (loss, (new_carry, metrics)), (g_net, g_rows) = jax.value_and_grad(
        loss_fn, argnums=(0, 1), has_aux=True)(params["net"], rows_BxE)

    step = state.step + 1
    new_params = dict(params)
    puzzle_lr = oc.puzzle_emb_lr * oc.factor(step)
    if rows_BxE is not None:
      new_params["puzzle_emb"] = sparse_sign_sgd(params["puzzle_emb"], ids_B, g_rows, puzzle_lr,
                                                 oc.puzzle_emb_weight_decay)
    updates, opt_state = tx.update(g_net, state.opt_state, params["net"])
    new_params["net"] = optax.apply_updates(params["net"], updates)
    metrics = {**metrics, "loss": loss, "lr": oc.lr * oc.factor(step), "puzzle_emb_lr": puzzle_lr}
    return TrainState(step=step, params=new_params, opt_state=opt_state), new_carry, metrics

  return train_step


def reduce_metrics(metrics: dict, global_batch: int, n_steps: int = 1) -> dict:
  """Metric sums of `n_steps` steps -> the reference's means.

  Losses are divided by the examples seen (n_steps * global_batch), "loss", "lr"
  and "puzzle_emb_lr" averaged over steps, the rest divided by the number of
  halted slots ("count"), which is itself reported as "halted" per step.
  """
  count = max(float(metrics["count"]), 1.0)
  out = {}
  for k, v in metrics.items():
    v = float(v)
    if k in ("loss", "lr", "puzzle_emb_lr"):
      out[k] = v / n_steps
    elif k.endswith("loss"):
      out[k] = v / (n_steps * global_batch)
    elif k == "count":
      out["halted"] = v / n_steps
    else:
      out[k] = v / count
  return out
