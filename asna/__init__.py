"""ASNA: Siamese-difference networks for full-reference image quality assessment.

Shared code for the scripts at the top of the repository: text configs,
metrics, the surrogate Spearman ranker and the loss, dataset preparation,
the tf.data input pipeline, the four networks, training and evaluation.
"""

__version__ = "0.1.0"
