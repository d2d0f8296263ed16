"""Training the suite and its variants: config, the fast Llama model, the trainer, export of
model directories, evaluation, and norm removal by fine-tuning."""
