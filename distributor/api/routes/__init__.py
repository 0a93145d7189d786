"""One router per concern; `distributor.api.app` lists them in order."""
