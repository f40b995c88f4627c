"""Fine-tuning and evaluation on the one training loop: sequence classification/regression (GLUE, SICK, your own
files), extractive QA (SQuAD v1.1/v2.0) and token classification (CoNLL), plus the BERT-miniatures grid.

    from wellread.finetune import FinetuneOptions
from wellread.finetune.grid import finetune
    results = finetune(FinetuneOptions(model="bert-mini", task="sst2", data=["glue/SST-2"], out=Path("out")))
"""

from wellread.finetune.base import EvalReport, FinetuneTask, length_grouped_order
from wellread.finetune.classification import ClassificationTask
from wellread.finetune.data import CustomColumns, TaskData, load_task_data
from wellread.finetune.grid import finetune, run_grid
from wellread.finetune.options import FinetuneOptions
from wellread.finetune.qa import QATask
from wellread.finetune.run import LabelMismatchError, evaluate_model, load_for_task, prepare
from wellread.finetune.tagging import TaggingTask

__all__ = [
    "ClassificationTask", "CustomColumns", "EvalReport", "FinetuneOptions", "FinetuneTask", "LabelMismatchError",
    "QATask", "TaggingTask", "TaskData", "evaluate_model", "finetune", "length_grouped_order", "load_for_task",
    "load_task_data", "prepare", "run_grid",
]
