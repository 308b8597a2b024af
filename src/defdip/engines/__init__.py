"""Simulation engines: PySD and the compiled ensemble engine, behind one call."""
