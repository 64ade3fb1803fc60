"""Chameleon page templates, compiled one at a time.

Chameleon compiles a template on its first render. When several threads render templates
for the first time at once, as after a restart on results day, CPython 3.11 can fail while
building the templates' syntax trees ("SystemError: AST constructor recursion depth
mismatch") and the request fails with a 500. Compiling under one process-wide lock avoids that;
it costs nothing once every template is compiled. Deform's form templates compile under
the same lock (SerialDeformRenderer).
"""

import threading

from chameleon.zpt.template import PageTemplateFile
from deform.template import ZPTRendererFactory
from pyramid.decorator import reify
from pyramid_chameleon import renderer, zpt

_COMPILING = threading.RLock()


class SerialPageTemplateFile(zpt.PyramidPageTemplateFile):
    """A page template that compiles under the process-wide lock; macros it loads do too."""

    def cook(self, body):
        with _COMPILING:
            super().cook(body)


class SerialTemplateRenderer(zpt.ZPTTemplateRenderer):
    @reify
    def template(self):
        return SerialPageTemplateFile(
            self.path,
            auto_reload=self.lookup.auto_reload,
            debug=self.lookup.debug,
            translate=self.lookup.translate,
            macro=self.macro,
        )


class SerialDeformTemplateFile(PageTemplateFile):
    """A Deform widget template that compiles under the process-wide lock."""

    def cook(self, body):
        with _COMPILING:
            super().cook(body)


class SerialDeformRenderer(ZPTRendererFactory):
    """Deform's renderer, loading its templates as SerialDeformTemplateFile."""

    def __init__(self, search_path, **options):
        super().__init__(search_path, **options)
        self.loader.formats = {**self.loader.formats, "xml": SerialDeformTemplateFile}


def renderer_factory(info):
    return renderer.template_renderer_factory(info, SerialTemplateRenderer)


def includeme(config):
    config.include("pyramid_chameleon")
    config.add_renderer(".pt", renderer_factory)
