"""`flask demo`'s dataset (data.py), its loader (loader.py) and the factories it shares with the tests."""
