"""Train and evaluate HRM on maze.

python -m experiments.maze --config=experiments/configs/maze.py[:VARIANT]
"""

from experiments import main

if __name__ == "__main__":
  main.run_task("maze")
