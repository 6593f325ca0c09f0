"""Drop-in replacements for other libraries' namespace APIs.

- :mod:`netns_fast.compat.pyroute2_netns`: ``pyroute2.netns``.
"""
