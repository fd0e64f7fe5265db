"""The operator console in the browser: `plantqc.web.app.create_app`, served by `plantqc web`."""
