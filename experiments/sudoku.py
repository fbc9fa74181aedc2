"""Train and evaluate HRM on sudoku.

  python -m experiments.sudoku --config=experiments/configs/sudoku.py[:VARIANT]
"""
import os

from experiments import main

if __name__ == "__main__":
  main.run(os.path.join(os.path.dirname(__file__), "configs", "sudoku.py"))
