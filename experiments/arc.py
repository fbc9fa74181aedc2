"""Train and evaluate HRM on arc.

  python -m experiments.arc --config=experiments/configs/arc.py[:VARIANT]
"""
import os

from experiments import main

if __name__ == "__main__":
  main.run(os.path.join(os.path.dirname(__file__), "configs", "arc.py"))
