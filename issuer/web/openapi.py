"""What the OpenAPI document says that Litestar 2 does not derive by itself, in one place.

- A msgspec Struct that refuses unknown fields (`forbid_unknown_fields=True`, every admin
  request body) is declared closed: `additionalProperties: false`. Undeclared, a client or a
  fuzzer reading the document may send extra fields and meet a 400 it was not told about.
- A body the handler takes as `X | None = None` may be left out: `requestBody.required` is
  false for the operations built with `OptionalBody` (Litestar marks every body required).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Operation, RequestBody, Schema

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

__all__ = ["OPENAPI_PLUGINS", "ClosedStructs", "OptionalBody"]


class ClosedStructs(StructSchemaPlugin):
    """Litestar's Struct schemas, with `additionalProperties: false` where msgspec refuses
    unknown fields."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


@dataclass
class OptionalBody(Operation):
    """`@post(..., operation_class=OptionalBody)` for a handler whose body may be absent."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


OPENAPI_PLUGINS = [ClosedStructs()]
