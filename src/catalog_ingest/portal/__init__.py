"""The web portal: server-rendered pages (Jinja2 + vendored htmx) over the service layer."""
