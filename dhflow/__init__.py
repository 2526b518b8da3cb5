"""dhflow: declarative, version-controlled hyperparameter studies compiled to Balsam job DAGs."""

__version__ = "0.1.0"
