"""Load goemu's cross-compiled C runtime: read ELF objects, link them in memory.

``read_object`` turns a ``.o`` into an :class:`ObjectFile`; ``link`` places and
relocates a list of them into an :class:`Image` ready to be mapped.
"""
from loader.elf import InputSection, ObjectFile, ObjSymbol, Reloc, read_object
from loader.link import Image, ImageSymbol, Placement, Segment, link

__all__ = [
    "Image",
    "ImageSymbol",
    "InputSection",
    "ObjSymbol",
    "ObjectFile",
    "Placement",
    "Reloc",
    "Segment",
    "link",
    "read_object",
]
