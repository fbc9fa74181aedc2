"""Train and evaluate HRM on parity.

  python -m experiments.parity --config=experiments/configs/parity.py[:VARIANT]
"""
import os

from experiments import main

if __name__ == "__main__":
  main.run(os.path.join(os.path.dirname(__file__), "configs", "parity.py"))
