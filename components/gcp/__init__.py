"""ModelFort components for Google Cloud (the GCP parity work adds them here)."""
