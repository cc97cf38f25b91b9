"""The surrogate Spearman ranker: data, networks, soft rank, training and checks.

A frozen network that maps a vector of scores to their ranks makes Spearman's
correlation differentiable, so it can sit inside the IQA loss.
"""
