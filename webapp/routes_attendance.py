"""Routes of the attendance pages, included from webapp/routes.py."""


def includeme(config):
    pass
