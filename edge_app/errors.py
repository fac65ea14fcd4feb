"""Errors a user can act on.

Each carries a message that names the thing and the fix, and an exit code, so the CLI can
print one line and exit instead of showing a traceback. Anything else is a bug and may raise.
"""

from __future__ import annotations


class EdgeAppError(Exception):
    """Base for errors the user can fix; `exit_code` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(EdgeAppError):
    """A config file, environment variable or flag has a value we cannot use."""

    exit_code = 2


class BundleError(EdgeAppError):
    """A bundle is missing, incomplete, altered or of an unknown format."""

    exit_code = 3


class ProviderError(EdgeAppError):
    """An execution provider was asked for that this onnxruntime does not offer."""

    exit_code = 4


class ExportError(EdgeAppError):
    """The export side refused a model, an eval file or a quantized result."""

    exit_code = 5


class BrokerError(EdgeAppError):
    """The MQTT broker cannot be used: unreachable, bad credentials, TLS or not authorised.

    Each cause has its own exit code (see mqtt.connection) so a supervisor can tell them apart.
    """

    exit_code = 6
