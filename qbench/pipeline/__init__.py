"""The services a run is made of (``session.py`` draws who constructs whom): the catalog of models, the datasets,
the artifacts (cache + backends), the evaluator (runners + tasks), the results; ``open_session`` builds them."""

from qbench.pipeline.session import Session, open_session

__all__ = ["Session", "open_session"]
