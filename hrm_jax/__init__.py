"""hrm_jax: the Hierarchical Reasoning Model in JAX/Flax."""
