"""The metric in other people's code: the public surface of the package (docs/api.md).

* ``metric``          — ``load_metric(...)`` -> :class:`Metric`, whose ``score(reference, distorted)``
  scores one pair or a batch (``asna.load_metric``);
* ``perceptual_loss`` — :class:`PerceptualLoss`, the metric as a differentiable Keras loss
  (``asna.PerceptualLoss``);
* ``console``         — the console commands ``asna-score``, ``asna-score-folder`` and ``asna-evaluate``;
* ``default_models``  — where the shipped model is found (the checkout's ``models/`` or the wheel's copy).

Import the names from ``asna`` itself: ``asna.load_metric``, ``asna.PerceptualLoss``.
"""
