"""The basics every other part of the package uses; nothing here imports TensorFlow at import time.

* ``config``      — the text configs: typed defaults, ``[section] key = value`` files, ``--set`` overrides;
* ``errors``      — :class:`UserError`, the one-line error every script prints for bad input;
* ``paths``       — the repository root, atomic writes, checks on output paths;
* ``quiet``       — TensorFlow's start-up log kept off the scripts' output (``ASNA_VERBOSE=1`` brings it back);
* ``metrics``     — SRCC, PLCC, KRCC and RMSE as plain NumPy functions;
* ``plots``       — saving matplotlib figures (the Agg backend, atomic PNGs);
* ``precision``   — float32, mixed bfloat16 or float16: choosing and applying the compute policy;
* ``speed_paths`` — switches for the faster implementations the networks and scoring build with.
"""
