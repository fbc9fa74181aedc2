"""Train and evaluate HRM on reach.

python -m experiments.reach --config=experiments/configs/reach.py[:VARIANT]
"""

from experiments import main

if __name__ == "__main__":
  main.run_task("reach")
