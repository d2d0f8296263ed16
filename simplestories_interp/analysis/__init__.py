"""Analysis of a loaded model: the activation store, neuron top-k views, attention-head
statistics and classes, and exact direct logit attribution."""
