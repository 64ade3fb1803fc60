"""A SQLAlchemy session per request, joined to the request's transaction (pyramid_tm)."""

import zope.sqlalchemy

from spets.db import make_engine, make_session_factory


def get_tm_session(session_factory, transaction_manager, request=None):
    """Return a session that commits or rolls back with the given transaction manager."""
    dbsession = session_factory(info={"request": request})
    # The services write with bulk SQL on tables, which zope.sqlalchemy does not count as a
    # change: it would roll such a request back. Starting "changed" makes every request
    # that ends without an error commit; a read-only request then commits nothing.
    zope.sqlalchemy.register(
        dbsession,
        transaction_manager=transaction_manager,
        initial_state=zope.sqlalchemy.datamanager.STATUS_CHANGED,
    )
    return dbsession


def includeme(config):
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    config.include("pyramid_tm")
    config.include("pyramid_retry")

    # Tests pass a factory bound to their own connection; otherwise build one from the URL.
    session_factory = settings.get("spets.dbsession_factory")
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings))
    config.registry["dbsession_factory"] = session_factory

    def dbsession(request):
        session = request.environ.get("app.dbsession")
        if session is None:
            session = get_tm_session(session_factory, request.tm, request=request)
        return session

    config.add_request_method(dbsession, reify=True)
