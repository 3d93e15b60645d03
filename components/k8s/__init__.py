"""ModelFort components for Kubernetes (hardened namespaces and model serving land here)."""
