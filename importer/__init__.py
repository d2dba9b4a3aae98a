"""wa-close-importer: move WhatsApp conversations into Close, each message exactly once."""

__version__ = "0.1.0"
