"""Jinja2 templates for the body of notes (the generated part below the properties).

The defaults ship in ``obsync/templates``; ``templates.annotation`` and
``templates.source`` in the config name the user's own. Values reach a template
already made inert (see render.py), and the rendered body is checked again for a
forged marker line, so a template cannot hide the user's text. A template that does
not compile, or fails on a note, is an error naming its file and line: the sync
stops before anything is written.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from obsync.errors import ObsyncError

if TYPE_CHECKING:
    import jinja2


@dataclass(frozen=True, slots=True)
class Template:
    name: str  # the file it came from, as errors name it
    text: str


@dataclass(frozen=True, slots=True)
class Templates:
    annotation: Template
    source: Template


def _default(name: str) -> Template:
    text = resources.files("obsync").joinpath("templates", name).read_text(encoding="utf-8")
    return Template(f"(default) {name}", text)


DEFAULT = Templates(_default("annotation.md.j2"), _default("source.md.j2"))


class TemplateError(ObsyncError):
    """A template that does not compile or fails while rendering a note."""


def load(path: Path | None, default: Template) -> Template:
    """A template file, checked: it compiles. None: the default."""
    if path is None:
        return default
    try:
        template = Template(str(path), path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read template: {exc}") from exc
    compiled(template)
    return template


def quote(text: str) -> str:
    """Text as a Markdown blockquote, a ``> `` before every line."""
    return "\n".join(f"> {line}".rstrip() for line in text.split("\n"))


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    def source(name: str) -> tuple[str, str, Any]:
        return _sources[name], name, lambda: True

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(source),
        undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not ""
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML: values are made inert before they get here
        cache_size=0,  # compiled() caches by name and text; Jinja2's cache, by name alone,
        # would give a file's old template once the user has edited it
    )
    environment.filters["quote"] = quote
    return environment


_sources: dict[str, str] = {}


@functools.cache
def compiled(template: Template) -> jinja2.Template:
    import jinja2

    _sources[template.name] = template.text
    try:
        return _environment().get_template(template.name)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{template.name}:{exc.lineno}: template error: {exc.message}") from exc
    finally:
        del _sources[template.name]


def render(template: Template, values: Mapping[str, object]) -> str:
    try:
        return compiled(template).render(values)
    except TemplateError:
        raise
    except Exception as exc:
        line = _line_in(template.name, exc.__traceback__)
        where = f"{template.name}:{line}" if line else template.name
        raise TemplateError(f"{where}: template error: {type(exc).__name__}: {exc}") from exc


def _line_in(name: str, traceback: TracebackType | None) -> int | None:
    """The template's line where the error happened (Jinja2 maps its frames to it)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == name:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
