"""Accounts: the sign-in policy (allauth and axes adapters, idle timeout, required second
factor), API tokens, one-time links, and their pages."""
