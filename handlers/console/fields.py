"""Form fields of the console's pages as markup: a label tied to its input, the hint, what was typed kept, and the
refusal next to the field (``aria-invalid``, ``aria-describedby``). Every value is escaped here, so a template
writes ``{% raw field(...) %}``; pages pass ``form`` (what was typed) and ``errors`` (each field's reason)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tornado.escape import xhtml_escape


def _e(value: Any) -> str:
    return xhtml_escape("" if value is None else str(value))


def _described(name: str, hint: str | None, error: str | None) -> str:
    ids = [f"{name}-hint"] if hint else []
    if error:
        ids.append(f"{name}-error")
    described = f' aria-describedby="{" ".join(ids)}"' if ids else ""
    return described + (' aria-invalid="true"' if error else "")


def _tail(name: str, hint: str | None, error: str | None) -> str:
    out = f'<p class="hint" id="{name}-hint">{_e(hint)}</p>' if hint else ""
    if error:
        out += f'<p class="field-error" id="{name}-error">{_e(error)}</p>'
    return out


def field(name: str, label: str, form: Mapping[str, Any], errors: Mapping[str, str], *, kind: str = "text",
          hint: str | None = None, required: bool = False, autocomplete: str = "off", inputmode: str | None = None,
          placeholder: str | None = None) -> str:
    """A labelled <input> (text, date, password, search) with what was typed and its refusal."""
    error = errors.get(name)
    extra = ' required' if required else ""
    extra += f' inputmode="{_e(inputmode)}"' if inputmode else ""
    extra += f' placeholder="{_e(placeholder)}"' if placeholder else ""
    value = "" if kind == "password" else f' value="{_e(form.get(name, ""))}"'
    return (f'<div class="field{" has-error" if error else ""}"><label for="{name}">{_e(label)}</label>'
            f'<input id="{name}" name="{name}" type="{kind}" autocomplete="{_e(autocomplete)}"{value}{extra}'
            f'{_described(name, hint, error)}>{_tail(name, hint, error)}</div>')


def textarea(name: str, label: str, form: Mapping[str, Any], errors: Mapping[str, str], *,
             hint: str | None = None, rows: int = 3) -> str:
    """A labelled <textarea> with what was typed and its refusal."""
    error = errors.get(name)
    return (f'<div class="field{" has-error" if error else ""}"><label for="{name}">{_e(label)}</label>'
            f'<textarea id="{name}" name="{name}" rows="{rows}"{_described(name, hint, error)}>'
            f'{_e(form.get(name, ""))}</textarea>{_tail(name, hint, error)}</div>')


def select(name: str, label: str, choices: Iterable[tuple[Any, str]], form: Mapping[str, Any],
           errors: Mapping[str, str], *, blank: str | None = "请选择", hint: str | None = None) -> str:
    """A labelled <select> of (value, label) choices, the chosen one kept."""
    error = errors.get(name)
    chosen = str(form.get(name, ""))
    options = f'<option value="">{_e(blank)}</option>' if blank is not None else ""
    for value, text in choices:
        mark = " selected" if str(value) == chosen else ""
        options += f'<option value="{_e(value)}"{mark}>{_e(text)}</option>'
    return (f'<div class="field{" has-error" if error else ""}"><label for="{name}">{_e(label)}</label>'
            f'<select id="{name}" name="{name}"{_described(name, hint, error)}>{options}</select>'
            f'{_tail(name, hint, error)}</div>')


def checkboxes(name: str, legend: str, choices: Iterable[tuple[Any, str]], chosen: Iterable[Any],
               errors: Mapping[str, str], *, hint: str | None = None) -> str:
    """A <fieldset> of checkboxes of (value, label) choices, the chosen ones checked."""
    error = errors.get(name)
    picked = {str(c) for c in chosen}
    boxes = "".join(
        f'<label class="choice"><input type="checkbox" name="{name}" value="{_e(value)}"'
        f'{" checked" if str(value) in picked else ""}> {_e(text)}</label>' for value, text in choices)
    described = _described(name, hint, error).replace(' aria-invalid="true"', "")
    return (f'<fieldset class="field{" has-error" if error else ""}"{described}>'
            f'<legend>{_e(legend)}</legend>{boxes}{_tail(name, hint, error)}</fieldset>')


#: What each template of a form page gets to draw its fields.
HELPERS: dict[str, Any] = {"field": field, "textarea": textarea, "select": select, "checkboxes": checkboxes}
