"""Schemas of the HTTP API shared by several resources.

``common``: links, points, standard overrides, facility references;
``jobs``: the background-job document. A schema of one resource only sits
beside its routes in ``api/routes/``.
"""
