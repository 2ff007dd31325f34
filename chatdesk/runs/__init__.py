"""Runs: the GUI-side half of executing a crew, between the services and the worker.

The coordinator drives each run on the GUI's event loop (it is neither a service,
which never sees Qt or the worker, nor the worker, which never sees the store), and
beside it lives what decides a run's model: the model choice, the model settings
read from disk, and the local model servers the window offers. The ui reaches the
worker's world only through here.
"""
