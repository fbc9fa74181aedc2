"""Test set-up: 8 simulated CPU devices, and a compilation cache shared by the test workers.

Many tests compile the same small programs from different Python callables; the
persistent cache (keyed by the compiled program) lets them reuse one compile.
"""
import os
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402  (after the environment is set)

_CACHE = os.environ.get("HRM_TEST_JAX_CACHE",
                        os.path.join(tempfile.gettempdir(), "hrm_jax_test_compile_cache"))
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
