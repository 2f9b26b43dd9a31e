"""`diamond eval`: test episodes of a checkpoint in the real environment, JSON report, optional video."""
