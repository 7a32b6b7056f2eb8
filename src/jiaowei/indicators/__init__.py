"""Indicators: data elements, periods, collection, validation, approval, targets (DHIS2-compatible)."""
