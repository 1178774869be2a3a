"""ROS message types by name: the generated class and the full ros2msg definition text (for MCAP schemas).

Used by the recorder (schemas), the player (acknowledgement topics) and the demo report (decoding a
recording). Needs the ROS Python packages only, no mcap.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

DEFINITION_DELIMITER = "=" * 80
PRIMITIVE_TYPES = {
    "bool",
    "byte",
    "char",
    "float32",
    "float64",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "string",
    "wstring",
}


class DefinitionError(LookupError):
    """A message type whose .msg definition cannot be found."""


def message_class(type_name: str) -> type:
    """'sensor_msgs/msg/Image' -> the generated Python class."""
    package, kind, name = _split_type(type_name)
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def _split_type(type_name: str) -> tuple[str, str, str]:
    parts = type_name.split("/")
    if len(parts) == 2:
        return parts[0], "msg", parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise DefinitionError(f"not a ROS message type name: '{type_name}'")


def msg_file_text(type_name: str) -> str:
    """The installed .msg file of a type (share/<package>/msg/<Type>.msg)."""
    package, kind, name = _split_type(type_name)
    try:
        path = Path(get_package_share_directory(package)) / kind / f"{name}.msg"
    except PackageNotFoundError as error:
        raise DefinitionError(f"package '{package}' of {type_name} is not installed (AMENT_PREFIX_PATH)") from error
    if not path.is_file():
        raise DefinitionError(f"no message definition for {type_name} at {path}")
    return path.read_text()


def nested_types(text: str, package: str) -> list[str]:
    """The non-primitive field types of a .msg text, as 'pkg/msg/Type', in order of appearance."""
    found = []
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        field_type = line.split()[0]  # fields and constants alike; constants are always primitive
        base = re.sub(r"\[.*\]$", "", field_type)  # arrays: T[], T[3], T[<=3]
        base = re.sub(r"<=\d+$", "", base)  # bounded strings: string<=10
        if base in PRIMITIVE_TYPES:
            continue
        if base.count("/") == 1:
            owner, name = base.split("/")
            found.append(f"{owner}/msg/{name}")
        elif "/" in base:
            found.append(base)
        else:
            found.append(f"{package}/msg/{base}")
    return found


def full_definition(type_name: str) -> str:
    """The complete ros2msg definition: the type's .msg text, then every nested type's, each once."""
    package = _split_type(type_name)[0]
    top = msg_file_text(type_name)
    parts = [top.rstrip("\n")]
    seen = {type_name}
    pending = nested_types(top, package)
    while pending:
        nested = pending.pop(0)
        if nested in seen:
            continue
        seen.add(nested)
        text = msg_file_text(nested)
        parts.append(f"{DEFINITION_DELIMITER}\nMSG: {nested}\n{text.rstrip(chr(10))}")
        pending += nested_types(text, _split_type(nested)[0])
    return "\n".join(parts) + "\n"
