"""Experiments built on simulations: dose-responses, combinations and synergy, arm
comparisons, Hill fits and global sensitivity."""
