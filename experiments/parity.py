"""Train and evaluate HRM on parity.

python -m experiments.parity --config=experiments/configs/parity.py[:VARIANT]
"""

from experiments import main

if __name__ == "__main__":
  main.run_task("parity")
