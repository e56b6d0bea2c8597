"""Timbrel's learning core: FluCoMa-style DataSet/LabelSet, scalers, MLP and KNN on numpy + numba.

Never imports app/, dsp/ or Qt. Every object has ``to_dict()``, ``save(path)``, ``from_dict(d)`` and
``load(path)`` with FluCoMa's JSON layout; bad input raises ValueError (or a subclass) and leaves
the object unchanged.
"""
from .checks import NotFittedError
from .dataset import DataSet, LabelSet, UnknownIdError
from .knn import KNNClassifier, KNNRegressor
from .mlp import MLPClassifier, MLPRegressor, TrainingDivergedError
from .jsonio import JSONFileError, MissingJSONFileError, load_json, save_json
from .scalers import Normalize, RobustScale, Standardize

__all__ = [
    "DataSet", "LabelSet", "UnknownIdError",
    "Normalize", "Standardize", "RobustScale",
    "MLPClassifier", "MLPRegressor", "TrainingDivergedError", "KNNClassifier", "KNNRegressor",
    "NotFittedError", "JSONFileError", "MissingJSONFileError", "load_json", "save_json",
]
