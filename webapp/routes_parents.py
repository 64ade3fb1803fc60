"""Routes of the parents pages, included from webapp/routes.py."""


def includeme(config):
    pass
