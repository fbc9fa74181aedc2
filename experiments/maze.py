"""Train and evaluate HRM on maze.

  python -m experiments.maze --config=experiments/configs/maze.py[:VARIANT]
"""
import os

from experiments import main

if __name__ == "__main__":
  main.run(os.path.join(os.path.dirname(__file__), "configs", "maze.py"))
