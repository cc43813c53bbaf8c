"""Accuracy evaluation of trained models on held-out real data (the README's accuracy table)."""
