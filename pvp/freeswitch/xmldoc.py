"""FreeSWITCH XML documents built with ElementTree: every value is escaped by the library."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

DOCUMENT_TYPE = "freeswitch/xml"


def document(section: str) -> tuple[ET.Element, ET.Element]:
    """A ``<document>`` with one ``<section name=...>``; both elements returned."""
    root = ET.Element("document", type=DOCUMENT_TYPE)
    return root, ET.SubElement(root, "section", name=section)


def not_found() -> bytes:
    """What makes mod_xml_curl fall through to the next binding, then to the static files."""
    root, section = document("result")
    ET.SubElement(section, "result", status="not found")
    return to_bytes(root)


def include(children: Iterable[ET.Element[Any]]) -> ET.Element:  # comments too
    """An ``<include>`` wrapper: the form of a file pulled in by X-PRE-PROCESS include."""
    root = ET.Element("include")
    root.extend(children)
    return root


def to_bytes(root: ET.Element, pretty: bool = False) -> bytes:
    """UTF-8 bytes; an ``<include>`` gets no XML declaration (it is pasted into another file)."""
    if pretty:
        ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=root.tag != "include")


def params(parent: ET.Element, tag: str, values: dict[str, str]) -> ET.Element:
    """``<params><param name=.. value=../>...`` (or ``variables``/``variable``)."""
    holder = ET.SubElement(parent, tag + "s")
    for name, value in values.items():
        ET.SubElement(holder, tag, name=name, value=value)
    return holder
