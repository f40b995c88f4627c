"""Knowledge distillation: losses (losses.py) and teacher/student layer mapping (layers.py)."""
