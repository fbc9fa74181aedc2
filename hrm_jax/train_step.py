"""One training update: forward, ACT loss, 1-step gradient, AdamATan2 + sparse sign-SGD."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import optax

from hrm_jax import act
from hrm_jax.batch import validate_batch
from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.losses import act_loss
from hrm_jax.optim import OptimConfig, make_optimizer, sparse_sign_sgd


@flax.struct.dataclass
class TrainState:
  """Everything an update changes: step count, parameters, AdamATan2 state, parameter EMA."""

  step: jax.Array  # int32 [] updates done so far
  params: dict  # see hrm_jax.model
  opt_state: optax.OptState  # AdamATan2 state of params["net"]
  ema: dict | None = None  # EMA of params (a train step with ema_rate > 0), else None

  @property
  def eval_params(self) -> dict:
    """The parameters to evaluate: the EMA when one is kept, else the parameters."""
    return self.params if self.ema is None else self.ema


def init_train_state(params: dict, oc: OptimConfig, ema_rate: float = 0.0) -> TrainState:
  """A TrainState at step 0 for `params`, with an EMA equal to them if `ema_rate` > 0."""
  ema = jax.tree.map(jnp.copy, params) if ema_rate else None
  return TrainState(
    step=jnp.zeros([], jnp.int32),
    params=params,
    opt_state=make_optimizer(oc).init(params["net"]),
    ema=ema,
  )


def make_train_step(config: HRMConfig, oc: OptimConfig, ema_rate: float = 0.0, net_sharding=None):
  """Returns the pure `train_step(state, carry, batch, rng) -> (state, carry, metrics)`.

  Jit it (donating state and carry), e.g. `jax.jit(step, donate_argnums=(0, 1))`.
  The gradient is that of the summed ACT loss divided by the global batch size,
  as the reference's pretrain.py backpropagates. `metrics` holds the loss-head
  sums (see `losses.act_loss`), "loss" (the scaled loss) and both learning rates.
  With `ema_rate` in (0, 1) the state's EMA (see `init_train_state`, same rate) moves
  towards the updated parameters: ema <- ema_rate * ema + (1 - ema_rate) * params.
  `net_sharding` (a jax Sharding, e.g. replicated) is where params["net"] is gathered for
  the forward and backward pass when the state keeps it split (train.param_sharding "fsdp"):
  once per step, so the recurrence runs as under replication.
  """
  if not 0 <= ema_rate < 1:
    raise ConfigError(f"ema_rate must lie in [0, 1) (0 = no EMA), got {ema_rate!r}")
  tx = make_optimizer(oc)

  def train_step(state: TrainState, carry: act.Carry, batch: dict, rng: jax.Array):
    validate_batch(batch, config, carry=carry)
    if (state.ema is not None) != bool(ema_rate):
      raise ConfigError(
        f"the state {'has' if state.ema is not None else 'lacks'} an EMA and the "
        f"step's ema_rate is {ema_rate}: pass one ema_rate to init_train_state "
        "and make_train_step"
      )
    params = state.params
    carry = act.reset_carry(params, carry, batch, config)
    ids_B = carry.puzzle_identifiers
    rows_BxE = act.puzzle_rows(params, ids_B)
    global_batch = batch["inputs"].shape[0]
    net = params["net"]
    if net_sharding is not None:
      net = jax.lax.with_sharding_constraint(net, net_sharding)

    def loss_fn(net, rows):
      new_carry, out = act.segment(
        {**params, "net": net}, carry, rows, config=config, train=True, rng=rng
      )
      loss, metrics = act_loss(
        out, new_carry.labels, new_carry, config.loss_type, config.q_loss_weight
      )
      return loss / global_batch, (new_carry, metrics)

    (loss, (new_carry, metrics)), (g_net, g_rows) = jax.value_and_grad(
      loss_fn, argnums=(0, 1), has_aux=True
    )(net, rows_BxE)

    step = state.step + 1
    new_params = dict(params)
    puzzle_lr = oc.puzzle_emb_lr * oc.factor(step)
    if rows_BxE is not None:
      new_params["puzzle_emb"] = sparse_sign_sgd(
        params["puzzle_emb"], ids_B, g_rows, puzzle_lr, oc.puzzle_emb_weight_decay
      )
    updates, opt_state = tx.update(g_net, state.opt_state, params["net"])
    new_params["net"] = optax.apply_updates(params["net"], updates)
    ema = (
      optax.incremental_update(new_params, state.ema, step_size=1 - ema_rate) if ema_rate else None
    )
    metrics = {**metrics, "loss": loss, "lr": oc.lr * oc.factor(step), "puzzle_emb_lr": puzzle_lr}
    new_state = TrainState(step=step, params=new_params, opt_state=opt_state, ema=ema)
    return new_state, new_carry, metrics

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
