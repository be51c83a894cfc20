"""Exception tree of hedging_pipeline.

Every error raised on bad input carries one line that names the file, column, ticker or date at fault, what
was expected and what was found, so that the CLI can print it verbatim and exit non-zero.
"""

from __future__ import annotations


class HedgingError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(HedgingError):
    """A setting (environment variable or resource config) is invalid."""


class DataError(HedgingError, ValueError):
    """Input data is missing, malformed or inconsistent."""


class MissingFileError(DataError, FileNotFoundError):
    """A required raw file is absent from the drop folder."""


class MissingColumnError(DataError):
    """A required column is absent from a raw file or frame."""


class DuplicateRowsError(DataError):
    """A key that must be unique (e.g. (date, ticker)) repeats."""


class InvalidValueError(DataError):
    """A value is out of its domain (non-positive price, NaN where forbidden, unparseable date)."""


class UnknownTickerError(DataError):
    """A ticker is referenced that the universe (companies) does not know."""


class InsufficientHistoryError(DataError):
    """Too short a history for the window a computation needs."""


class InsufficientAssetsError(DataError):
    """A cross-section has no more assets with returns and exposures than factors to estimate."""


class OptimizationError(HedgingError):
    """The hedge optimiser failed."""


class InfeasibleHedgeError(OptimizationError):
    """The hedge constraints cannot be met (e.g. fewer candidates than 1 / max_weight)."""
