"""Training: the one loop (loop.py), optimisers and schedule (optim.py), masked-LM pretraining."""
