"""Training a network from a config: what ``train_simple.py`` ... ``train_tiled.py`` run.

* ``cli``         — the training scripts' arguments (``--config``, ``--set``, ``--resume``, ``--overwrite``);
* ``loop``        — :func:`train`: data, model, loss, callbacks and ``model.fit``, resumable;
* ``run_state``   — a run folder's files and state: what resume and overwrite may do with it;
* ``earlier_run`` — ``--overwrite``: the earlier run kept aside until the new one has saved an epoch;
* ``checkpoint``  — atomic per-epoch checkpoints and the stop on a non-finite loss;
* ``losses``      — the loss: MSE, PLCC and the surrogate Spearman term through the frozen ranker;
* ``tf_metrics``  — the correlations Keras logs during training;
* ``distributed`` — the tf.distribute strategy: one device, several GPUs, several workers.
"""
