"""Accuracy evaluation of trained models on held-out real data (the issue-3 table)."""
