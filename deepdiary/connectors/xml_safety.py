"""The one place XML from a user's files is parsed safely (GPX, KML, WeChat XML).

An export is data, not a program: a document that declares entities (the "billion
laughs" bomb expands a few hundred bytes into gigabytes) or refers to external ones (a
file on this machine, a URL) is refused whole, with a reason, through ``defusedxml``.
A plain ``<!DOCTYPE>`` without entity declarations is still read: some devices write one.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element
from xml.parsers import expat

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser
from defusedxml.ElementTree import fromstring as _defused_fromstring

__all__ = ["UnsafeXml", "guard_expat", "parse_xml", "unsafe_xml_reason"]

# What parse_xml and a guarded expat parser raise for a hostile document.
UnsafeXml = DefusedXmlException


def guard_expat(parser: expat.XMLParserType) -> expat.XMLParserType:
    """Make a raw expat parser refuse entity declarations and external references, the
    way defusedxml's own parser does (its handlers, so the rules are defusedxml's)."""
    defused = DefusedXMLParser.__new__(DefusedXMLParser)
    parser.EntityDeclHandler = defused.defused_entity_decl
    parser.UnparsedEntityDeclHandler = defused.defused_unparsed_entity_decl
    parser.ExternalEntityRefHandler = defused.defused_external_entity_ref_handler
    return parser


def parse_xml(text: str) -> Element:
    """``ElementTree.fromstring`` that raises ``UnsafeXml`` for entities and external references."""
    return _defused_fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)


def unsafe_xml_reason(exc: DefusedXmlException) -> str:
    """What a user reads when a document is refused."""
    if isinstance(exc, EntitiesForbidden) and (exc.sysid or exc.pubid):
        what = f"declares an external entity {exc.name!r} ({exc.sysid or exc.pubid})"
    elif isinstance(exc, EntitiesForbidden):
        what = f"declares the XML entity {exc.name!r} (entity expansion, as in a 'billion laughs' bomb)"
    elif isinstance(exc, ExternalReferenceForbidden):
        what = f"refers to an external entity ({exc.sysid or exc.pubid or 'unnamed'})"
    elif isinstance(exc, DTDForbidden):
        what = "has a document type declaration"
    else:
        what = str(exc)
    return f"refused: the XML {what}; such documents are not read"
