def test_login_and_profile(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert "Ayesha Khan" in page.text


def test_templates_compile_one_at_a_time(wsgi_app):
    """Pages and the layouts they load compile under one lock (see webapp/rendering.py)."""
    from pyramid.renderers import get_renderer
    from pyramid.threadlocal import manager

    from spets.webapp.rendering import SerialPageTemplateFile

    manager.push({"registry": wsgi_app.registry, "request": None})
    try:
        template = get_renderer("spets:webapp/templates/portal/results.pt").implementation()
    finally:
        manager.pop()
    assert isinstance(template, SerialPageTemplateFile)


def test_form_templates_compile_one_at_a_time(wsgi_app):
    """Deform's widget templates, ours and its own, compile under the same lock."""
    import deform

    from spets.webapp.rendering import SerialDeformTemplateFile

    renderer = deform.Form.default_renderer
    assert isinstance(renderer.load("textinput"), SerialDeformTemplateFile)
    assert isinstance(renderer.load("form"), SerialDeformTemplateFile)
