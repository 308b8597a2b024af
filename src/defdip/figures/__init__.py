"""Figures. Plotting only: data and axes in, figures out; nothing here runs a model."""
