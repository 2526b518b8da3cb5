"""Adaptive search (`search:`): proposers over optimizer libraries, and the driver loop.

Pure: nothing here touches a database. :mod:`.proposer` is the small interface and the
factory; :mod:`.optuna_proposer` and :mod:`.deephyper_proposer` adapt the libraries;
:mod:`.driver` is the loop that keeps ``parallel`` evaluations in flight over any backend
(the Balsam one lives in :mod:`dhflow.runtime.search`); :mod:`.pareto` orders results.
"""
