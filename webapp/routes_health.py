"""Routes of the health pages, included from webapp/routes.py."""


def includeme(config):
    pass
