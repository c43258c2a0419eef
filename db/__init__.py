"""Models, sessions, migrations and small repositories."""
