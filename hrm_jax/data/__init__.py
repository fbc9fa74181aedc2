"""Offline dataset builders (sudoku, maze, perfect_maze, arc, parity), the HRM format, loaders."""
