"""Sweeps: plan, sampling, chunk executors, the chunk store and what is computed from it."""
