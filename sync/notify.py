"""The notifier the settings name (``notifier.backend``; see ``connectors.notify``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.notify import FileNotifier, LogNotifier, Notifier, SmtpNotifier

if TYPE_CHECKING:
    from sync.runtime import Runtime


def notifier_for(rt: Runtime) -> Notifier:
    settings = rt.settings.notifier
    if settings.backend == "smtp":
        smtp = settings.smtp
        password = smtp.password.get_secret_value() if smtp.password is not None else None
        return SmtpNotifier(
            smtp.host, smtp.port, smtp.sender, smtp.username, password, smtp.starttls, smtp.timeout_s
        )
    if settings.backend == "log":
        return LogNotifier()
    assert settings.file_dir is not None  # settings fill it from var_dir
    return FileNotifier(settings.file_dir)
