"""PVP's side of FreeSWITCH: configuration renderer, mod_xml_curl handlers, static fallback."""
