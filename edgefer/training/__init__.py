"""Training: config, data preparation, batches, the loop with checkpoints, evaluation and reports.

Imports Keras (through the loop); only the ``train`` side of the package uses it.
"""
