"""Knowledge distillation on the one training loop (`wellread distill`).

losses.py      soft cross-entropy with temperature, regression, QA span and per-token distillation, hidden-state
               and attention-score MSE (padding excluded, head grouping)
layers.py      uniform and user-given layer maps, the student -> teacher width projection
teacher.py     the teacher's per-example outputs, computed once and cached on disk (or per batch)
prediction.py  DistillTask: prediction-layer distillation of a fine-tuning task, with a transfer set
intermediate.py LayerDistillTask: TinyBERT's embedding, hidden-state and attention losses
data.py        raw text for general distillation, transfer files
augment.py     TinyBERT's masked-LM word-replacement augmentation
run.py         task distillation: the intermediate stage, then the prediction stage
general.py     general distillation (--task none) on raw text
"""
