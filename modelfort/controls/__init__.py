"""The control catalog and the coverage matrix computed from the code."""
