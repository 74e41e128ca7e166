"""Model files: save a trained network with what it needs, load it safely, use it.

:func:`save` and :func:`load` (also ``deepalloc.save`` and ``deepalloc.load``) write and
read one file per network (:mod:`~deepalloc.models.files`; the encoding of constructor
arguments in :mod:`~deepalloc.models.encoding`); :func:`latest_weights` gives the
weights a loaded model decides for a date (:mod:`~deepalloc.models.use`).
"""

from deepalloc.models.encoding import ModelFileError
from deepalloc.models.files import SavedModel, load, save
from deepalloc.models.use import holding_date, latest_weights

__all__ = ["ModelFileError", "SavedModel", "holding_date", "latest_weights", "load", "save"]
