"""Helpers shipped for tests of code that uses Tiphys (like trio.testing)."""
