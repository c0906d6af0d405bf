"""Incident Command System (ICS) forms generated from Concord's own data.

Each form is built once as plain data (``builders``), filtered through the permission
core for the person asking, and then rendered as a printable page, a PDF (``pdf``) or a
CSV (``views``). The marking printed on a report is the highest marking among the items
it actually includes for that person.
"""
