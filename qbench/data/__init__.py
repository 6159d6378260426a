"""Datasets: one module each. Loaders return numpy arrays and never import TensorFlow."""
