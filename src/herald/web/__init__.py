"""The web UI: a single-page app served at `/ui`, built on the JSON API only.

`router` serves the HTML shell for `/ui` and every deep link below it (`/ui/tasks/{id}`, …;
the browser routes with the History API) and the static assets under `/ui/assets/`. The
assets are plain files in `static/` (vanilla JavaScript modules and CSS, no build step) and
ship in the wheel as package data. Imports no other Herald package.
"""

from herald.web.ui_routes import router

__all__ = ["router"]
