"""What `scripts/train_clause_model.py` needs of the offline extractor to train its clause model:
the rules' candidate sentences, the features the model scores, and the model's file format.

Training runs offline on a developer's machine (scikit-learn, the `train` extra); the pool only
loads the shipped weights. Keeping these names here lets the extractor's modules change freely.
"""

from llm_worker._clause_model import FORMAT_VERSION, MODEL_FILE, ClauseModel, sentence_features
from llm_worker._rules import clause_sentences

__all__ = ["FORMAT_VERSION", "MODEL_FILE", "ClauseModel", "clause_sentences", "sentence_features"]
