"""A copy of the manifest text with every ``!secret`` value masked.

The manifest is logged to MLflow as an artifact (``reproduce`` reads it back);
``!secret`` values written in it must not travel with it. The spans come from
the YAML composer's marks, so quoting and flow style are handled as YAML reads
them; the rest of the text is kept byte for byte.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

SECRET_TAG = "!secret"  # noqa: S105 - a YAML tag, not a password
MASK = '!secret "<secret>"'


def redact_secrets(text: str) -> str | None:
    """``text`` with each ``!secret`` scalar replaced by :data:`MASK`; None when it has none."""
    if SECRET_TAG not in text:
        return None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None  # a manifest that does not parse never reaches a run
    spans: list[tuple[int, int]] = []
    _collect(root, spans, set())
    for start, end in sorted(spans, reverse=True):
        # A block scalar's span runs to the next token: keep the line breaks.
        tail = len(text[start:end]) - len(text[start:end].rstrip())
        text = text[:start] + MASK + text[end - tail :]
    return text


def _collect(node: Node | None, spans: list[tuple[int, int]], seen: set[int]) -> None:
    if node is None or id(node) in seen:  # aliases share nodes
        return
    seen.add(id(node))
    if isinstance(node, ScalarNode) and node.tag == SECRET_TAG:
        spans.append((node.start_mark.index, node.end_mark.index))
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _collect(item, spans, seen)
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            _collect(key, spans, seen)
            _collect(value, spans, seen)
