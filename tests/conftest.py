"""Test set-up: 8 simulated CPU devices, float32 by default, shared tiny configs."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
