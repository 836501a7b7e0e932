"""The operator's console: a small server-rendered web page `serve --console` runs on its own loopback port,
listing flows and events, showing one event (redacted as `events show` does) and retrying dead events the
way `events retry` does. Jinja2 renders it; this package is imported only when the console is enabled."""
