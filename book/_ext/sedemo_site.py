"""Sphinx extension of the book: keep every page self-contained and offline.

* Jupyter Book 1 always loads sphinx-thebe, which adds its configuration script
  twice on Sphinx 7.4 (a JavaScript error on every page) and points at a CDN. The
  book has no live-kernel mode in the browser (its listening controls are static), so
  the thebe scripts are removed from every page.
"""
from __future__ import annotations


def _drop_thebe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    kept = []
    for js in scripts:
        body = str(getattr(js, "attributes", {}).get("body") or "")
        filename = str(getattr(js, "filename", None) or js)
        if "THEBE_JS_URL" in body or "thebe" in filename:
            continue
        kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
