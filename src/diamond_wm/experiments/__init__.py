"""Reproducible small experiments of the paper on CPU (`make drift`: section 5.1)."""
