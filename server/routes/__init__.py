"""The blueprints: one per part of the site, each only reading a request and answering it.

``pages`` (home page, lookup box), ``resource`` (URN dereferencing), ``sparql`` (the endpoint),
``dumps`` (published files, VoID) and ``health``. A blueprint never imports another one: what
two of them share (addresses, error bodies, example queries) lives in :mod:`server.services`,
and links between them are made with ``url_for``, so no path is spelled twice.
"""
