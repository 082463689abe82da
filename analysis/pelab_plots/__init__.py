"""The plots of analysis/plot.py, one module per kind of result."""
