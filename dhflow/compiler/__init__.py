"""The compiler: a .dhflow file to a Plan. Never imports Balsam, Django or psycopg2.

The front door is :mod:`dhflow.compiler.api`; the stages are the subpackages ``parse``,
``check``, ``expand`` and ``plan``, in that order.
"""
