"""Shared test helpers: a scripted loopback HTTP server and an in-process CLI runner."""
