"""Sparse autoencoders on SAELens: config, the activation stream, the sparse TopK/BatchTopK
training step, training and resume, metrics, and feature views."""
