from django.db import models


class BareRow(models.Model):
    """A row the bare insert view (``/bench/bare-insert/``) writes: the yardstick a real
    write is compared with. Only in benchmark and test databases; nothing reads it."""

    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "bare row"
        verbose_name_plural = "bare rows"

    def __str__(self) -> str:
        return f"bare row {self.pk}"
