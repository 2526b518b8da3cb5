"""The Balsam backend: the only package that imports balsam, django or psycopg2.

They are imported lazily, inside functions, after :func:`dhflow.balsam.env.activate` has
set the environment Balsam reads once (``BALSAM_DB_PATH`` and ``HOME``).
"""
