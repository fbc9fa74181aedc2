"""Offline dataset builders (sudoku, maze, perfect_maze, arc, parity, reach), the HRM format,
loaders."""
