"""Matchers: find the same target across jurisdictions (normalise, candidates, score, cluster).

Pure functions over common-schema records; testable without a database.
"""
