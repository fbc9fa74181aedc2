"""hrm_jax: the Hierarchical Reasoning Model (and TRM, `arch="trm"`) in JAX/Flax.

Functional surface (pure functions: the caller jits them, config static):
  params = hrm_jax.init(rng, config)
  carry = hrm_jax.initial_carry(batch, config)
  carry, out = hrm_jax.apply(params, carry, batch, config=config, train=False)
"""

from hrm_jax.act import Carry, apply, initial_carry, reset_carry, segment
from hrm_jax.batch import BatchError, validate_batch
from hrm_jax.config import ConfigError, HRMConfig
from hrm_jax.losses import act_loss, softmax_cross_entropy, stablemax_cross_entropy
from hrm_jax.model import count_params, init
from hrm_jax.optim import adam_atan2, lr_factor, sparse_sign_sgd
from hrm_jax.train_step import (
  OptimConfig,
  TrainState,
  init_train_state,
  make_optimizer,
  make_train_step,
  reduce_metrics,
)

__all__ = [
  "Carry",
  "apply",
  "initial_carry",
  "reset_carry",
  "segment",
  "BatchError",
  "validate_batch",
  "ConfigError",
  "HRMConfig",
  "act_loss",
  "softmax_cross_entropy",
  "stablemax_cross_entropy",
  "count_params",
  "init",
  "adam_atan2",
  "lr_factor",
  "sparse_sign_sgd",
  "OptimConfig",
  "TrainState",
  "init_train_state",
  "make_optimizer",
  "make_train_step",
  "reduce_metrics",
]
