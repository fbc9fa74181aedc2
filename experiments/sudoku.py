"""Train and evaluate HRM on sudoku.

python -m experiments.sudoku --config=experiments/configs/sudoku.py[:VARIANT]
"""

from experiments import main

if __name__ == "__main__":
  main.run_task("sudoku")
