"""Adapters to FreeSWITCH: the Event Socket client and what rides on it."""
