"""Dispensing: what a contracted pharmacist records many times a day."""
