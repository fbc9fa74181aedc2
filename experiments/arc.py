"""Train and evaluate HRM on arc.

python -m experiments.arc --config=experiments/configs/arc.py[:VARIANT]
"""

from experiments import main

if __name__ == "__main__":
  main.run_task("arc")
