"""Schemas of the HTTP API shared by several resources.

``common``: links, points, standard overrides, facility references;
``jobs``: the background-job document; ``siting``: the siting request
(``/siting`` and a workbench scenario's siting). A schema of one resource
only sits beside its routes in ``api/routes/``.
"""
