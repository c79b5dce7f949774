"""The control plane's HTTP side: the application (:mod:`pvp.web.app`) and its shared pieces."""
