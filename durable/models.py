"""The leased-row model: what a row needs to be claimed by the durable executor."""

from __future__ import annotations

from django.db import models


class Leased(models.Model):
    """Fields of a row that the durable executor claims with a lease (see durable/leases.py)."""

    attempt = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
