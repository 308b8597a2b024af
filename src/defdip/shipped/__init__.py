"""The model, scenarios and data files shipped with the package (read with importlib.resources)."""
