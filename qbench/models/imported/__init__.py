"""Bring-your-own models: a Keras file, SavedModel, frozen graph or .tflite joins the matrix under its own id.

The thesis converted a downloaded DeepLab frozen graph (Code Listing 3.7); this package lets any such model be
benchmarked like the built-in ones, on the user's own data. One concern per module: ``option`` parses
``ID=PATH,key=value...``, ``formats`` recognises and stores model files, ``frozen_graph`` checks a GraphDef's
arrays, ``spec`` is the ModelSpec that fits the dataset (``qbench.data``) to the model.
"""

from qbench.models.imported.formats import pack_saved_model, unpack_saved_model
from qbench.models.imported.option import SYNTAX, parse_model_option
from qbench.models.imported.spec import ImportedModel

__all__ = ["ImportedModel", "SYNTAX", "pack_saved_model", "parse_model_option", "unpack_saved_model"]
