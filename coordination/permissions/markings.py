"""Sensitivity markings (Traffic Light Protocol 2.0), ordered from least to most restricted."""

from django.db import models


class Marking(models.IntegerChoices):
    """A TLP 2.0 marking. Stored as its rank so "up to" comparisons happen in SQL."""

    CLEAR = 0, "TLP:CLEAR"
    GREEN = 1, "TLP:GREEN"
    AMBER = 2, "TLP:AMBER"
    AMBER_STRICT = 3, "TLP:AMBER+STRICT"
    RED = 4, "TLP:RED"
