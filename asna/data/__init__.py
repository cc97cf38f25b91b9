"""Dataset preparation (real layouts and the built-in set), HDF5 files and the input pipeline."""
