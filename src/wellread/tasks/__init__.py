"""Fine-tuning data and metrics: task readers (GLUE, SICK, SQuAD, CoNLL, the user's own files) and scores.

Readers return plain dataclasses (`Example`, `QAExample`, `TaggedSentence`), independent of any tokenizer;
malformed input raises `wellread.errors.DataError` naming file and line. Metrics are percentages (0-100).
Shared by training and serving, and imported where needed: `batching` (dynamic padding, inference batches),
`qa_features` (QA windows and answer decoding) and `tag_features` (words to sub-word tokens).
"""

from wellread.tasks.common import DataWarning, Example, collect_labels
from wellread.tasks.custom import load_custom
from wellread.tasks.glue import load_glue, load_glue_hf, load_sick, read_task_file, task_file
from wellread.tasks.metrics import (
    GLUE_METRICS,
    Degeneracy,
    EntityScores,
    TypeScores,
    entity_metrics,
    glue_metrics,
    glue_score,
    is_degenerate,
    majority_baseline,
    squad_metrics,
    token_accuracy,
)
from wellread.tasks.ner import TaggedSentence, iob1_to_iob2, iob2_errors, read_conll, tag_labels
from wellread.tasks.qa import Answer, QAExample, evaluate_squad, read_squad, write_predictions
from wellread.tasks.specs import (
    GLUE_TASKS,
    SICK_TASKS,
    TASKS,
    TaskSpec,
    UnknownTaskError,
    get_task,
    label_permutation,
)

__all__ = [
    "GLUE_METRICS",
    "GLUE_TASKS",
    "SICK_TASKS",
    "TASKS",
    "Answer",
    "DataWarning",
    "Degeneracy",
    "EntityScores",
    "Example",
    "QAExample",
    "TaggedSentence",
    "TaskSpec",
    "TypeScores",
    "UnknownTaskError",
    "collect_labels",
    "entity_metrics",
    "evaluate_squad",
    "get_task",
    "glue_metrics",
    "glue_score",
    "iob1_to_iob2",
    "iob2_errors",
    "is_degenerate",
    "label_permutation",
    "load_custom",
    "load_glue",
    "load_glue_hf",
    "load_sick",
    "majority_baseline",
    "read_conll",
    "read_squad",
    "read_task_file",
    "squad_metrics",
    "tag_labels",
    "task_file",
    "token_accuracy",
    "write_predictions",
]
