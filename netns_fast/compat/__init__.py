"""Drop-in replacements for other libraries' namespace APIs.

- :mod:`netns_fast.compat.pyroute2_netns`: ``pyroute2.netns`` (and
  ``pyroute2.netns.manager``), for pyroute2 0.9.x.
- :func:`install` / :func:`uninstall` (or ``with installed():``): make
  pyroute2 itself use it, so that ``IPRoute(netns=...)``, ``NetNS``, NDB
  sources, ``create_socket`` and ``pyroute2.fixtures`` create, enter and
  open namespaces in-process instead of forking a child per call. The
  pytest option ``--netns-pyroute2`` (ini ``netns_pyroute2 = true``) does
  it for a test session.
"""

from ._switch import install, installed, is_installed, uninstall

__all__ = ["install", "installed", "is_installed", "uninstall"]
