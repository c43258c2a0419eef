"""The work: job entry points and the flows they run."""
