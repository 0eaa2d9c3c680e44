"""What the routes are built on: the loaded publication and everything computed from it.

The dataset and its index (loaded once by ``create_app``), descriptions of URNs, the dataset
and the endpoint, formats and negotiation, running queries, rendered pages, and the response
bodies several routes share. Services know no blueprint; where they need an address they ask
``url_for`` for an endpoint by name.
"""
