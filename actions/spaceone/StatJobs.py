"""StatJobs: statistics over the SpaceONE identity jobs (an aggregation pipeline or distinct values)."""

METHOD = "POST"
PATH = "/identity/v2/job/stat"
IDEMPOTENT = True

EXAMPLE = {"query": {"aggregate": [{"group": {"keys": [{"key": "status", "name": "status"}],
                                              "fields": [{"operator": "count", "name": "count"}]}}]}}
